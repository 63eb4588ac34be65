#include "CCurl.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>

/* The soname Debian's libcurl4 (and libcurl4-openssl-dev's link) names. */
#define LIBCURL_SONAME "libcurl.so.4"

static struct {
  CURLcode (*global_init)(long flags);
  CURL *(*easy_init)(void);
  void (*easy_cleanup)(CURL *handle);
  CURLcode (*easy_perform)(CURL *handle);
  const char *(*easy_strerror)(CURLcode code);
  CURLcode (*easy_setopt)(CURL *handle, CURLoption option, ...);
  CURLcode (*easy_getinfo)(CURL *handle, CURLINFO info, ...);
  struct curl_slist *(*slist_append)(struct curl_slist *list, const char *value);
  void (*slist_free_all)(struct curl_slist *list);
} curl;

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static int loaded;
static char load_error[512];

/* Resolves one symbol into `slot`; on failure keeps dlerror's message and returns 0. */
static int resolve(void *library, const char *name, void **slot) {
  dlerror();
  *slot = dlsym(library, name);
  if (*slot != NULL) return 1;
  const char *reason = dlerror();
  snprintf(load_error, sizeof load_error, "%s has no %s: %s", LIBCURL_SONAME, name, reason ? reason : "null symbol");
  return 0;
}

static void load(void) {
  /* RTLD_NODELETE: the handles and threads libcurl made outlive any reference we hold. */
  void *library = dlopen(LIBCURL_SONAME, RTLD_NOW | RTLD_LOCAL | RTLD_NODELETE);
  if (library == NULL) {
    const char *reason = dlerror();
    snprintf(load_error, sizeof load_error, "cannot load %s (Debian package libcurl4): %s", LIBCURL_SONAME,
             reason ? reason : "unknown error");
    return;
  }
  int ok = resolve(library, "curl_global_init", (void **)&curl.global_init) &&
           resolve(library, "curl_easy_init", (void **)&curl.easy_init) &&
           resolve(library, "curl_easy_cleanup", (void **)&curl.easy_cleanup) &&
           resolve(library, "curl_easy_perform", (void **)&curl.easy_perform) &&
           resolve(library, "curl_easy_strerror", (void **)&curl.easy_strerror) &&
           resolve(library, "curl_easy_setopt", (void **)&curl.easy_setopt) &&
           resolve(library, "curl_easy_getinfo", (void **)&curl.easy_getinfo) &&
           resolve(library, "curl_slist_append", (void **)&curl.slist_append) &&
           resolve(library, "curl_slist_free_all", (void **)&curl.slist_free_all);
  if (!ok) return;
  CURLcode code = curl.global_init(CURL_GLOBAL_DEFAULT);
  if (code != CURLE_OK) {
    snprintf(load_error, sizeof load_error, "curl_global_init failed: %s", curl.easy_strerror(code));
    return;
  }
  loaded = 1;
}

const char *conveyor_curl_load(void) {
  pthread_once(&load_once, load);
  return loaded ? NULL : load_error;
}

CURL *conveyor_curl_easy_init(void) { return curl.easy_init(); }
void conveyor_curl_easy_cleanup(CURL *handle) { curl.easy_cleanup(handle); }
CURLcode conveyor_curl_easy_perform(CURL *handle) { return curl.easy_perform(handle); }
const char *conveyor_curl_easy_strerror(CURLcode code) { return curl.easy_strerror(code); }

struct curl_slist *conveyor_curl_slist_append(struct curl_slist *list, const char *value) {
  return curl.slist_append(list, value);
}

void conveyor_curl_slist_free_all(struct curl_slist *list) { curl.slist_free_all(list); }

CURLcode conveyor_curl_set_long(CURL *handle, CURLoption option, long value) {
  return curl.easy_setopt(handle, option, value);
}

CURLcode conveyor_curl_set_string(CURL *handle, CURLoption option, const char *value) {
  return curl.easy_setopt(handle, option, value);
}

CURLcode conveyor_curl_set_pointer(CURL *handle, CURLoption option, void *value) {
  return curl.easy_setopt(handle, option, value);
}

CURLcode conveyor_curl_set_list(CURL *handle, CURLoption option, struct curl_slist *value) {
  return curl.easy_setopt(handle, option, value);
}

CURLcode conveyor_curl_set_size(CURL *handle, CURLoption option, curl_off_t value) {
  return curl.easy_setopt(handle, option, value);
}

CURLcode conveyor_curl_set_read_function(CURL *handle, conveyor_curl_read_callback callback) {
  return curl.easy_setopt(handle, CURLOPT_READFUNCTION, callback);
}

CURLcode conveyor_curl_set_debug_function(CURL *handle, conveyor_curl_debug_callback callback) {
  return curl.easy_setopt(handle, CURLOPT_DEBUGFUNCTION, callback);
}

CURLcode conveyor_curl_info_long(CURL *handle, CURLINFO info, long *value) {
  return curl.easy_getinfo(handle, info, value);
}

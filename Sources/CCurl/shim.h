#ifndef CONVEYOR_CCURL_SHIM_H
#define CONVEYOR_CCURL_SHIM_H

#include <curl/curl.h>

/* curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: these type them. */
static inline CURLcode conveyor_curl_set_long(CURL *handle, CURLoption option, long value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode conveyor_curl_set_string(CURL *handle, CURLoption option, const char *value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode conveyor_curl_set_pointer(CURL *handle, CURLoption option, void *value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode conveyor_curl_set_list(CURL *handle, CURLoption option, struct curl_slist *value) {
  return curl_easy_setopt(handle, option, value);
}

static inline CURLcode conveyor_curl_set_size(CURL *handle, CURLoption option, curl_off_t value) {
  return curl_easy_setopt(handle, option, value);
}

typedef size_t (*conveyor_curl_read_callback)(char *buffer, size_t size, size_t count, void *context);
typedef int (*conveyor_curl_debug_callback)(CURL *handle, curl_infotype type, char *data, size_t size, void *context);

static inline CURLcode conveyor_curl_set_read_function(CURL *handle, conveyor_curl_read_callback callback) {
  return curl_easy_setopt(handle, CURLOPT_READFUNCTION, callback);
}

static inline CURLcode conveyor_curl_set_debug_function(CURL *handle, conveyor_curl_debug_callback callback) {
  return curl_easy_setopt(handle, CURLOPT_DEBUGFUNCTION, callback);
}

static inline CURLcode conveyor_curl_info_long(CURL *handle, CURLINFO info, long *value) {
  return curl_easy_getinfo(handle, info, value);
}

/* Renamed from CURLOPT_MAIL_RCPT_ALLLOWFAILS (sic) in 8.2.0; Debian 12 ships 7.88. */
static inline CURLoption conveyor_curl_rcpt_allow_fails(void) {
  return (CURLoption)290;
}

#endif

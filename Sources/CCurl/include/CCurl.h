#ifndef CONVEYOR_CCURL_H
#define CONVEYOR_CCURL_H

/* libcurl, loaded at its first use rather than linked: only a worker that sends mail maps it and
 * the TLS stack it brings (libcrypto, gnutls, p11-kit, krb5: about 5.6 MB of an idle worker's
 * RSS). <curl/curl.h> gives the types and constants; every call goes through the functions below,
 * which call the library through the pointers conveyor_curl_load resolved. */
#include <curl/curl.h>

/* Loads libcurl.so.4 and runs curl_global_init, once per process (any thread, any number of
 * times). Returns NULL when libcurl is ready; otherwise why it is not (from dlerror, or
 * curl_global_init's code), the same text every time after: the string lives as long as the
 * process. */
const char *conveyor_curl_load(void);

/* The libcurl calls Conveyor makes; valid only after conveyor_curl_load returned 1. */
CURL *conveyor_curl_easy_init(void);
void conveyor_curl_easy_cleanup(CURL *handle);
CURLcode conveyor_curl_easy_perform(CURL *handle);
const char *conveyor_curl_easy_strerror(CURLcode code);
struct curl_slist *conveyor_curl_slist_append(struct curl_slist *list, const char *value);
void conveyor_curl_slist_free_all(struct curl_slist *list);

/* curl_easy_setopt and curl_easy_getinfo are variadic, which Swift cannot call: these type them. */
CURLcode conveyor_curl_set_long(CURL *handle, CURLoption option, long value);
CURLcode conveyor_curl_set_string(CURL *handle, CURLoption option, const char *value);
CURLcode conveyor_curl_set_pointer(CURL *handle, CURLoption option, void *value);
CURLcode conveyor_curl_set_list(CURL *handle, CURLoption option, struct curl_slist *value);
CURLcode conveyor_curl_set_size(CURL *handle, CURLoption option, curl_off_t value);

typedef size_t (*conveyor_curl_read_callback)(char *buffer, size_t size, size_t count, void *context);
typedef int (*conveyor_curl_debug_callback)(CURL *handle, curl_infotype type, char *data, size_t size, void *context);

CURLcode conveyor_curl_set_read_function(CURL *handle, conveyor_curl_read_callback callback);
CURLcode conveyor_curl_set_debug_function(CURL *handle, conveyor_curl_debug_callback callback);
CURLcode conveyor_curl_info_long(CURL *handle, CURLINFO info, long *value);

/* Renamed from CURLOPT_MAIL_RCPT_ALLLOWFAILS (sic) in 8.2.0; Debian 12 ships 7.88. */
static inline CURLoption conveyor_curl_rcpt_allow_fails(void) {
  return (CURLoption)290;
}

#endif

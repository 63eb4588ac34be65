#ifndef CONVEYOR_CHIREDIS_SHIM_H
#define CONVEYOR_CHIREDIS_SHIM_H

#include <sys/time.h>
#include <hiredis/hiredis.h>

/* redisGetReply takes a void** out-parameter; this types it for Swift. */
static inline int conveyor_redis_get_reply(redisContext *c, redisReply **reply) {
  return redisGetReply(c, (void **)reply);
}

static inline int conveyor_redis_get_reply_from_reader(redisContext *c, redisReply **reply) {
  return redisGetReplyFromReader(c, (void **)reply);
}

#endif

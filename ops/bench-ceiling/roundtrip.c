/* The round-trip ceiling: one task at a time, as Celery's delay().get() and Conveyor's call()
 * do it, with no framework. Per call: SUBSCRIBE to the task's result channel
 * (celery-task-meta-<id>), publish the task persistent and mandatory with a publisher confirm,
 * and wait for the SUCCESS the worker (`drain`) PUBLISHes on that channel: the round trip. A
 * result proves the broker took the task, so, like Conveyor's call(), the clock stops at the
 * result, not at the confirm; the confirm is read after it (a nack or a return still fails the
 * run), then UNSUBSCRIBE and the stored result is deleted, all untimed.
 * The subscription is written to Redis before the publish leaves for RabbitMQ, and Redis
 * executes commands in arrival order, so the worker's PUBLISH (after a broker delivery) cannot
 * overtake it; its reply is read after the publish, so it costs no round trip of its own: the
 * least a client can do and still not miss a result. */
#include "message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>

static redisContext *redis_open(const struct options *options) {
    struct timeval timeout = {5, 0};
    redisContext *redis = redisConnectWithTimeout(options->redis_host, options->redis_port, timeout);
    if (redis == NULL || redis->err) die("cannot connect to redis: %s", redis ? redis->errstr : "out of memory");
    redisSetTimeout(redis, timeout);
    return redis;
}

/* Sends what hiredis buffered without reading a reply. */
static void redis_flush(redisContext *redis) {
    int done = 0;
    while (!done) {
        if (redisBufferWrite(redis, &done) != REDIS_OK) die("redis: %s", redis->errstr);
    }
}

/* The next reply on the subscribed connection; dies on a timeout or an error. */
static redisReply *next_reply(redisContext *redis, const char *what) {
    redisReply *reply = NULL;
    if (redisGetReply(redis, (void **)&reply) != REDIS_OK) die("redis, waiting for %s: %s", what, redis->errstr);
    if (reply->type == REDIS_REPLY_ERROR) die("redis, waiting for %s: %s", what, reply->str);
    return reply;
}

/* Whether a pub/sub reply is the push `kind` ("subscribe", "message", ...) on `channel`. */
static int is_push(const redisReply *reply, const char *kind, const char *channel) {
    return reply->type == REDIS_REPLY_ARRAY && reply->elements == 3 && reply->element[0]->type == REDIS_REPLY_STRING &&
           strcmp(reply->element[0]->str, kind) == 0 && reply->element[1]->type == REDIS_REPLY_STRING &&
           strcmp(reply->element[1]->str, channel) == 0;
}

/* Blocks until the broker confirms the one outstanding publish; dies on a nack or a return. */
static void wait_confirm(amqp_connection_state_t connection) {
    for (;;) {
        amqp_frame_t frame;
        struct timeval timeout = {10, 0};
        int status = amqp_simple_wait_frame_noblock(connection, &frame, &timeout);
        if (status != AMQP_STATUS_OK) die("waiting for a confirm: %s", amqp_error_string2(status));
        if (frame.frame_type != AMQP_FRAME_METHOD) continue;
        switch (frame.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: return;
        case AMQP_BASIC_NACK_METHOD: die("the broker nacked a task");
        case AMQP_BASIC_RETURN_METHOD: die("a task was returned unroutable (is the queue declared?)");
        case AMQP_CHANNEL_CLOSE_METHOD:
        case AMQP_CONNECTION_CLOSE_METHOD: die("the broker closed the channel while publishing");
        default: break;
        }
    }
}

int run_roundtrip(const struct options *options) {
    amqp_connection_state_t connection = amqp_open(options);
    amqp_confirm_select(connection, 1);
    check_reply(amqp_get_rpc_reply(connection), "confirm.select");
    redisContext *subscriber = redis_open(options);
    redisContext *admin = redis_open(options);

    struct celery_message message;
    message_init(&message, 0);
    amqp_bytes_t routing_key = amqp_cstring_bytes(options->queue);
    long total = options->warmup + options->count;
    long *latencies = calloc((size_t)options->count, sizeof *latencies);
    if (latencies == NULL) die("out of memory");
    double deadline = now_seconds() + options->timeout;

    for (long index = 0; index < total; index++) {
        if (now_seconds() > deadline) die("timed out after %ld of %ld round trips", index, total);
        amqp_maybe_release_buffers(connection);
        message_next(&message, index);
        char channel[128];
        snprintf(channel, sizeof channel, "celery-task-meta-%s", message.id);

        double started = now_seconds();
        if (redisAppendCommand(subscriber, "SUBSCRIBE %s", channel) != REDIS_OK) die("redis: %s", subscriber->errstr);
        redis_flush(subscriber);
        int status = amqp_basic_publish(connection, 1, amqp_empty_bytes, routing_key, 1, 0, &message.properties, message.body_bytes);
        if (status != AMQP_STATUS_OK) die("publish: %s", amqp_error_string2(status));
        redisReply *reply = next_reply(subscriber, "the subscription");
        if (!is_push(reply, "subscribe", channel)) die("an unexpected reply to SUBSCRIBE %s", channel);
        freeReplyObject(reply);
        reply = next_reply(subscriber, "the result (is a drain consuming the queue? a returned task never gets one)");
        if (!is_push(reply, "message", channel)) die("an unexpected message while waiting on %s", channel);
        if (strstr(reply->element[2]->str, "\"SUCCESS\"") == NULL) die("task %s did not succeed: %s", message.id, reply->element[2]->str);
        double elapsed = now_seconds() - started;
        freeReplyObject(reply);
        if (index >= options->warmup) latencies[index - options->warmup] = (long)(elapsed * 1e6);
        wait_confirm(connection);

        if (redisAppendCommand(subscriber, "UNSUBSCRIBE %s", channel) != REDIS_OK) die("redis: %s", subscriber->errstr);
        freeReplyObject(next_reply(subscriber, "UNSUBSCRIBE"));
        redisReply *deleted = redisCommand(admin, "DEL %s", channel);
        if (deleted == NULL) die("redis: %s", admin->errstr);
        freeReplyObject(deleted);
    }

    printf("{\"count\": %ld, \"warmup\": %ld, \"latencies_us\": [", options->count, options->warmup);
    for (long i = 0; i < options->count; i++) printf(i == 0 ? "%ld" : ", %ld", latencies[i]);
    printf("]}\n");
    fflush(stdout);
    free(latencies);
    message_free(&message);
    redisFree(admin);
    redisFree(subscriber);
    amqp_shut(connection);
    return 0;
}

/* The end-to-end ceiling: consume Celery task messages, store a Celery-format SUCCESS result
 * for each (SETEX + PUBLISH, pipelined with hiredis), then acknowledge: a worker with no
 * framework and no task body, acking late like Conveyor does. */
#include "ceiling.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <hiredis/hiredis.h>

#define MAX_BATCH 512

/* Celery's date_done: UTC ISO-8601 with microseconds and +00:00. */
static void date_done(char *out, size_t size) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm utc;
    gmtime_r(&ts.tv_sec, &utc);
    char seconds[24];
    strftime(seconds, sizeof seconds, "%Y-%m-%dT%H:%M:%S", &utc);
    snprintf(out, size, "%s.%06d+00:00", seconds, (int)(ts.tv_nsec / 1000));
}

/* Appends SETEX and PUBLISH of the SUCCESS meta for one delivery to the Redis pipeline. */
static void store_result(redisContext *redis, const amqp_envelope_t *envelope, int echo, const char *ttl, char **buffer,
                         size_t *capacity) {
    const amqp_basic_properties_t *p = &envelope->message.properties;
    if (!(p->_flags & AMQP_BASIC_CORRELATION_ID_FLAG)) die("a delivery without a correlation id (task id)");
    int id_length = (int)p->correlation_id.len;
    const char *id = p->correlation_id.bytes;
    size_t body_length = echo ? envelope->message.body.len : 4;
    size_t needed = body_length + (size_t)id_length + 256;
    if (needed > *capacity) {
        *capacity = needed * 2;
        *buffer = realloc(*buffer, *capacity);
        if (*buffer == NULL) die("out of memory");
    }
    char done[64];
    date_done(done, sizeof done);
    int length = snprintf(*buffer, *capacity,
                          "{\"status\": \"SUCCESS\", \"result\": %.*s, \"traceback\": null, \"children\": [], "
                          "\"date_done\": \"%s\", \"task_id\": \"%.*s\"}",
                          (int)body_length, echo ? (const char *)envelope->message.body.bytes : "null", done, id_length, id);
    char key[128];
    int key_length = snprintf(key, sizeof key, "celery-task-meta-%.*s", id_length, id);
    if (key_length < 0 || (size_t)key_length >= sizeof key) die("a task id of %d bytes is too long for this ceiling", id_length);
    const char *setex[] = {"SETEX", key, ttl, *buffer};
    size_t setex_lengths[] = {5, (size_t)key_length, strlen(ttl), (size_t)length};
    const char *publish[] = {"PUBLISH", key, *buffer};
    size_t publish_lengths[] = {7, (size_t)key_length, (size_t)length};
    if (redisAppendCommandArgv(redis, 4, setex, setex_lengths) != REDIS_OK ||
        redisAppendCommandArgv(redis, 3, publish, publish_lengths) != REDIS_OK) {
        die("redis: %s", redis->errstr);
    }
}

/* Reads the replies of `commands` pipelined commands; dies on any error. */
static void read_replies(redisContext *redis, long commands) {
    for (long i = 0; i < commands; i++) {
        redisReply *reply = NULL;
        if (redisGetReply(redis, (void **)&reply) != REDIS_OK) die("redis: %s", redis->errstr);
        if (reply->type == REDIS_REPLY_ERROR) die("redis: %s", reply->str);
        freeReplyObject(reply);
    }
}

int run_drain(const struct options *options) {
    struct timeval redis_timeout = {5, 0};
    redisContext *redis = redisConnectWithTimeout(options->redis_host, options->redis_port, redis_timeout);
    if (redis == NULL || redis->err) die("cannot connect to redis: %s", redis ? redis->errstr : "out of memory");
    redisSetTimeout(redis, redis_timeout);

    amqp_connection_state_t connection = amqp_open(options);
    amqp_basic_qos(connection, 1, 0, (uint16_t)options->prefetch, 0);
    check_reply(amqp_get_rpc_reply(connection), "basic.qos");
    amqp_basic_consume(connection, 1, amqp_cstring_bytes(options->queue), amqp_empty_bytes, 0, 0, 0, amqp_empty_table);
    check_reply(amqp_get_rpc_reply(connection), "basic.consume");
    fprintf(stderr, "conveyor-ceiling: consuming %s\n", options->queue);

    double started = now_seconds();
    double deadline = started + options->timeout;
    long stored = 0, pending = 0;
    uint64_t last_tag = 0;
    size_t capacity = 0;
    char *buffer = NULL;
    char ttl[24];
    snprintf(ttl, sizeof ttl, "%ld", options->result_ttl);
    while (stored < options->count) {
        if (now_seconds() > deadline) die("timed out: %ld of %ld results stored", stored, options->count);
        amqp_maybe_release_buffers(connection);
        amqp_envelope_t envelope;
        struct timeval wait = {1, 0};
        amqp_rpc_reply_t reply = amqp_consume_message(connection, &envelope, &wait, 0);
        if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT) continue;
        check_reply(reply, "consume");
        store_result(redis, &envelope, options->echo, ttl, &buffer, &capacity);
        last_tag = envelope.delivery_tag;
        pending++;
        amqp_destroy_envelope(&envelope);
        /* Flush when nothing more is buffered: results first, then one multiple-ack. */
        int more = amqp_frames_enqueued(connection) || amqp_data_in_buffer(connection);
        if (!more || pending >= MAX_BATCH) {
            read_replies(redis, pending * 2);
            if (amqp_basic_ack(connection, 1, last_tag, 1) != AMQP_STATUS_OK) die("basic.ack failed");
            stored += pending;
            pending = 0;
        }
    }
    double seconds = now_seconds() - started;

    printf("{\"count\": %ld, \"seconds\": %.6f, \"prefetch\": %d}\n", stored, seconds, options->prefetch);
    fflush(stdout);
    free(buffer);
    amqp_shut(connection);
    redisFree(redis);
    return 0;
}

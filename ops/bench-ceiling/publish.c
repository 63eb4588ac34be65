/* The publish ceiling: persistent, mandatory Celery messages with a sliding window of
 * publisher confirms, read by hand (rabbitmq-c 0.11 has no confirm helper). */
#include "message.h"

#include <stdio.h>
#include <stdlib.h>

struct confirms {
    unsigned char *settled; /* by delivery tag (1-based) */
    long lowest_open;       /* every tag below is settled */
    long settled_count;
    long failed;
};

static void settle(struct confirms *c, long tag, int multiple, int failed, long published) {
    if (tag < 1 || tag > published) return;
    long from = multiple ? c->lowest_open : tag;
    for (long t = from; t <= tag; t++) {
        if (c->settled[t]) continue;
        c->settled[t] = 1;
        c->settled_count++;
        if (failed) c->failed++;
    }
    while (c->lowest_open <= published && c->settled[c->lowest_open]) c->lowest_open++;
}

/* Reads one frame if one arrives within `wait` seconds; settles acks, nacks and returns. */
static void read_frame(amqp_connection_state_t connection, struct confirms *c, long published, double wait) {
    struct timeval timeout = {(time_t)wait, (suseconds_t)((wait - (double)(time_t)wait) * 1e6)};
    amqp_frame_t frame;
    int status = amqp_simple_wait_frame_noblock(connection, &frame, &timeout);
    if (status == AMQP_STATUS_TIMEOUT) return;
    if (status != AMQP_STATUS_OK) die("waiting for confirms: %s", amqp_error_string2(status));
    if (frame.frame_type != AMQP_FRAME_METHOD) return;
    switch (frame.payload.method.id) {
    case AMQP_BASIC_ACK_METHOD: {
        amqp_basic_ack_t *ack = frame.payload.method.decoded;
        settle(c, (long)ack->delivery_tag, ack->multiple, 0, published);
        break;
    }
    case AMQP_BASIC_NACK_METHOD: {
        amqp_basic_nack_t *nack = frame.payload.method.decoded;
        settle(c, (long)nack->delivery_tag, nack->multiple, 1, published);
        break;
    }
    case AMQP_BASIC_RETURN_METHOD: {
        /* The returned message's header and body follow; its ack comes after. */
        amqp_message_t returned;
        check_reply(amqp_read_message(connection, frame.channel, &returned, 0), "reading a returned message");
        amqp_destroy_message(&returned);
        c->failed++;
        break;
    }
    case AMQP_CHANNEL_CLOSE_METHOD:
    case AMQP_CONNECTION_CLOSE_METHOD:
        die("broker closed the channel while publishing");
    default:
        break;
    }
}

int run_publish(const struct options *options) {
    amqp_connection_state_t connection = amqp_open(options);
    amqp_confirm_select(connection, 1);
    check_reply(amqp_get_rpc_reply(connection), "confirm.select");

    struct celery_message message;
    message_init(&message, options->payload);
    struct confirms confirms = {calloc((size_t)options->count + 2, 1), 1, 0, 0};
    if (confirms.settled == NULL) die("out of memory");
    amqp_bytes_t routing_key = amqp_cstring_bytes(options->queue);

    double started = now_seconds();
    double deadline = started + options->timeout;
    long published = 0;
    while (confirms.settled_count < options->count) {
        if (now_seconds() > deadline) die("timed out: %ld of %ld confirmed", confirms.settled_count, options->count);
        while (published < options->count && published - confirms.settled_count < options->window) {
            message_next(&message, published);
            int status = amqp_basic_publish(connection, 1, amqp_empty_bytes, routing_key, 1, 0, &message.properties,
                                            message.body_bytes);
            if (status != AMQP_STATUS_OK) die("publish: %s", amqp_error_string2(status));
            published++;
            /* Take in confirms that already arrived, without a system call when none did. */
            while (amqp_frames_enqueued(connection) || amqp_data_in_buffer(connection)) {
                read_frame(connection, &confirms, published, 0);
            }
        }
        /* Window full or everything sent: wait for the next confirm frame. */
        read_frame(connection, &confirms, published, 1.0);
    }
    double seconds = now_seconds() - started;

    printf("{\"count\": %ld, \"seconds\": %.6f, \"failed\": %ld, \"window\": %ld, \"body_bytes\": %zu}\n",
           options->count, seconds, confirms.failed, options->window, message.body_bytes.len);
    message_free(&message);
    free(confirms.settled);
    amqp_shut(connection);
    return confirms.failed == 0 ? 0 : 1;
}

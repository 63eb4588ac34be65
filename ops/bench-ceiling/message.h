/* A Celery protocol v2 task message, as Celery 5.7 and Conveyor publish it, built in place. */
#ifndef CONVEYOR_CEILING_MESSAGE_H
#define CONVEYOR_CEILING_MESSAGE_H

#include "ceiling.h"

#define MESSAGE_HEADER_COUNT 19

/* One reusable message: the same 19 headers, properties and body shape as Celery's, with the
 * task id, argsrepr and body rewritten for each publish. */
struct celery_message {
    amqp_basic_properties_t properties;
    amqp_table_entry_t headers[MESSAGE_HEADER_COUNT];
    amqp_field_value_t timelimit[2];
    char id[40];
    char argsrepr[64];
    char *body;
    size_t body_capacity;
    amqp_bytes_t body_bytes;
    long payload;
    unsigned pid; /* part of every task id */
};

/* Prepares the fixed parts; `payload` > 0 makes the args one string of that many bytes
 * (conveyor.echo), 0 makes them (i, 1) (conveyor.add). */
void message_init(struct celery_message *message, long payload);

/* Rewrites the id, argsrepr and body for task number `index`. */
void message_next(struct celery_message *message, long index);

void message_free(struct celery_message *message);

#endif

/* Builds Celery-format task messages with rabbitmq-c types (headers in Celery's order). */
#include "message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char embed[] = "{\"callbacks\": null, \"errbacks\": null, \"chain\": null, \"chord\": null}";

static amqp_table_entry_t string_entry(const char *key, const char *value) {
    amqp_table_entry_t entry;
    entry.key = amqp_cstring_bytes(key);
    entry.value.kind = AMQP_FIELD_KIND_UTF8;
    entry.value.value.bytes = amqp_cstring_bytes(value);
    return entry;
}

static amqp_table_entry_t void_entry(const char *key) {
    amqp_table_entry_t entry;
    entry.key = amqp_cstring_bytes(key);
    entry.value.kind = AMQP_FIELD_KIND_VOID;
    return entry;
}

static amqp_table_entry_t int_entry(const char *key, int64_t value) {
    amqp_table_entry_t entry;
    entry.key = amqp_cstring_bytes(key);
    entry.value.kind = AMQP_FIELD_KIND_I64;
    entry.value.value.i64 = value;
    return entry;
}

void message_init(struct celery_message *message, long payload) {
    memset(message, 0, sizeof *message);
    message->payload = payload;
    message->pid = (unsigned)getpid();
    static char origin[96];
    char host[64] = "localhost";
    gethostname(host, sizeof host - 1);
    snprintf(origin, sizeof origin, "gen%d@%s", (int)getpid(), host);

    message->timelimit[0].kind = AMQP_FIELD_KIND_VOID;
    message->timelimit[1].kind = AMQP_FIELD_KIND_VOID;
    amqp_table_entry_t *h = message->headers;
    h[0] = string_entry("lang", "py");
    h[1] = string_entry("task", payload > 0 ? "conveyor.echo" : "conveyor.add");
    h[2] = string_entry("id", message->id);
    h[3] = void_entry("shadow");
    h[4] = void_entry("eta");
    h[5] = void_entry("expires");
    h[6] = void_entry("group");
    h[7] = void_entry("group_index");
    h[8] = int_entry("retries", 0);
    h[9].key = amqp_cstring_bytes("timelimit");
    h[9].value.kind = AMQP_FIELD_KIND_ARRAY;
    h[9].value.value.array.num_entries = 2;
    h[9].value.value.array.entries = message->timelimit;
    h[10] = string_entry("root_id", message->id);
    h[11] = void_entry("parent_id");
    h[12] = string_entry("argsrepr", message->argsrepr);
    h[13] = string_entry("kwargsrepr", "{}");
    h[14] = string_entry("origin", origin);
    h[15].key = amqp_cstring_bytes("ignore_result");
    h[15].value.kind = AMQP_FIELD_KIND_BOOLEAN;
    h[15].value.value.boolean = 0;
    h[16] = int_entry("replaced_task_nesting", 0);
    h[17] = void_entry("stamped_headers");
    h[18].key = amqp_cstring_bytes("stamps");
    h[18].value.kind = AMQP_FIELD_KIND_TABLE;
    h[18].value.value.table.num_entries = 0;
    h[18].value.value.table.entries = NULL;

    amqp_basic_properties_t *p = &message->properties;
    p->_flags = AMQP_BASIC_CONTENT_TYPE_FLAG | AMQP_BASIC_CONTENT_ENCODING_FLAG | AMQP_BASIC_HEADERS_FLAG |
                AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_PRIORITY_FLAG | AMQP_BASIC_CORRELATION_ID_FLAG |
                AMQP_BASIC_REPLY_TO_FLAG;
    p->content_type = amqp_cstring_bytes("application/json");
    p->content_encoding = amqp_cstring_bytes("utf-8");
    p->headers.num_entries = MESSAGE_HEADER_COUNT;
    p->headers.entries = message->headers;
    p->delivery_mode = 2;
    p->priority = 0;
    p->reply_to = amqp_cstring_bytes("5d2d1b52-6a5c-3f62-9c3b-0f0e2b6c1a77");

    message->body_capacity = (size_t)payload + sizeof embed + 64;
    message->body = malloc(message->body_capacity);
    if (message->body == NULL) die("out of memory for a %ld-byte payload", payload);
    if (payload > 0) {
        /* [["xxxx..."], {}, {embed}]: the padding never changes, only the id does. */
        size_t at = (size_t)snprintf(message->body, message->body_capacity, "[[\"");
        memset(message->body + at, 'x', (size_t)payload);
        at += (size_t)payload;
        at += (size_t)snprintf(message->body + at, message->body_capacity - at, "\"], {}, %s]", embed);
        message->body_bytes.len = at;
        message->body_bytes.bytes = message->body;
        snprintf(message->argsrepr, sizeof message->argsrepr, "('xxxx...',)");
        message->headers[12].value.value.bytes = amqp_cstring_bytes(message->argsrepr);
    }
}

void message_next(struct celery_message *message, long index) {
    /* A UUID-shaped id, unique per run and message. */
    snprintf(message->id, sizeof message->id, "%08x-0000-4000-8000-%012lx", message->pid, (unsigned long)index);
    amqp_bytes_t id = amqp_cstring_bytes(message->id);
    message->headers[2].value.value.bytes = id;
    message->headers[10].value.value.bytes = id;
    message->properties.correlation_id = id;
    if (message->payload == 0) {
        snprintf(message->argsrepr, sizeof message->argsrepr, "(%ld, 1)", index);
        message->headers[12].value.value.bytes = amqp_cstring_bytes(message->argsrepr);
        int length = snprintf(message->body, message->body_capacity, "[[%ld, 1], {}, %s]", index, embed);
        message->body_bytes.len = (size_t)length;
        message->body_bytes.bytes = message->body;
    }
}

void message_free(struct celery_message *message) {
    free(message->body);
    message->body = NULL;
}

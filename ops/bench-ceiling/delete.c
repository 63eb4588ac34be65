/* Removes what a bench row declared: its queue, the worker's dead-letter queue, the exchange. */
#include "ceiling.h"

#include <stdio.h>
#include <string.h>

/* Returns 1 if the call succeeded; after a channel error, opens the channel again. */
static int settled(amqp_connection_state_t connection, amqp_rpc_reply_t reply) {
    if (reply.reply_type == AMQP_RESPONSE_NORMAL) return 1;
    if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        amqp_channel_close_ok_t ok = {0};
        amqp_send_method(connection, 1, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
        amqp_channel_open(connection, 1);
        check_reply(amqp_get_rpc_reply(connection), "channel.open");
        return 0;
    }
    check_reply(reply, "delete");
    return 0;
}

int run_delete(const struct options *options, char **names, int count) {
    amqp_connection_state_t connection = amqp_open(options);
    int deleted = 0;
    for (int i = 0; i < count; i++) {
        char dead[300];
        snprintf(dead, sizeof dead, "%s.dead", names[i]);
        amqp_queue_delete(connection, 1, amqp_cstring_bytes(names[i]), 0, 0);
        deleted += settled(connection, amqp_get_rpc_reply(connection));
        amqp_queue_delete(connection, 1, amqp_cstring_bytes(dead), 0, 0);
        settled(connection, amqp_get_rpc_reply(connection));
        amqp_exchange_delete(connection, 1, amqp_cstring_bytes(names[i]), 0);
        settled(connection, amqp_get_rpc_reply(connection));
    }
    printf("{\"deleted\": %d}\n", deleted);
    amqp_shut(connection);
    return 0;
}

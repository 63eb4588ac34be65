/* Connection set-up and error handling shared by the subcommands. */
#include "ceiling.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <amqp_tcp_socket.h>

double now_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void die(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("conveyor-ceiling: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    exit(1);
}

void check_reply(amqp_rpc_reply_t reply, const char *what) {
    switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
        return;
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
        die("%s: %s", what, amqp_error_string2(reply.library_error));
    case AMQP_RESPONSE_SERVER_EXCEPTION:
        if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
            amqp_channel_close_t *close = reply.reply.decoded;
            die("%s: channel closed %u %.*s", what, close->reply_code, (int)close->reply_text.len,
                (char *)close->reply_text.bytes);
        }
        if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
            amqp_connection_close_t *close = reply.reply.decoded;
            die("%s: connection closed %u %.*s", what, close->reply_code, (int)close->reply_text.len,
                (char *)close->reply_text.bytes);
        }
        die("%s: server exception, method 0x%08X", what, reply.reply.id);
    default:
        die("%s: no reply", what);
    }
}

amqp_connection_state_t amqp_open(const struct options *options) {
    amqp_connection_state_t connection = amqp_new_connection();
    amqp_socket_t *socket = amqp_tcp_socket_new(connection);
    if (socket == NULL) die("cannot create a socket");
    struct timeval connect_timeout = {5, 0};
    int status = amqp_socket_open_noblock(socket, options->amqp_host, options->amqp_port, &connect_timeout);
    if (status != AMQP_STATUS_OK) {
        die("cannot connect to %s:%d: %s", options->amqp_host, options->amqp_port, amqp_error_string2(status));
    }
    struct timeval rpc_timeout = {10, 0};
    amqp_set_rpc_timeout(connection, &rpc_timeout);
    check_reply(amqp_login(connection, options->amqp_vhost, 0, 131072, 0, AMQP_SASL_METHOD_PLAIN,
                           options->amqp_user, options->amqp_password),
                "login");
    amqp_channel_open(connection, 1);
    check_reply(amqp_get_rpc_reply(connection), "channel.open");
    return connection;
}

void amqp_shut(amqp_connection_state_t connection) {
    amqp_channel_close(connection, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(connection, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(connection);
}

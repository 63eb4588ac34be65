#ifndef CONVEYOR_CRABBITMQ_SHIM_H
#define CONVEYOR_CRABBITMQ_SHIM_H

/* amqp.h uses struct timeval without including <sys/time.h>. */
#include <sys/time.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <poll.h>
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <amqp_ssl_socket.h>

/* amqp_login_with_properties is C-variadic, which Swift cannot call: this fixes the SASL
   method to PLAIN (the only one RabbitMQ enables by default) and passes user and password. */
static inline amqp_rpc_reply_t conveyor_amqp_login_plain(
    amqp_connection_state_t state, const char *vhost, int channel_max, int frame_max,
    int heartbeat, const amqp_table_t *client_properties, const char *user,
    const char *password) {
  return amqp_login_with_properties(state, vhost, channel_max, frame_max, heartbeat,
                                    client_properties, AMQP_SASL_METHOD_PLAIN, user, password);
}

#endif

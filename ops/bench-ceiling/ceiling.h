/*
 * conveyor-ceiling: the raw rabbitmq-c + hiredis programs ops/bench measures Conveyor against.
 * No framework: the least work a Celery-compatible client or worker must do, written directly
 * against the two C libraries Conveyor wraps, so the numbers are the ceiling of this machine.
 */
#ifndef CONVEYOR_CEILING_H
#define CONVEYOR_CEILING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/time.h> /* amqp.h uses struct timeval without including it */
#include <amqp.h>

/* Where the servers are and what to do; filled from the command line. */
struct options {
    const char *amqp_host;
    int amqp_port;
    const char *amqp_user;
    const char *amqp_password;
    const char *amqp_vhost;
    const char *redis_host;
    int redis_port;
    const char *queue;
    long count;       /* messages to publish or drain */
    long window;      /* publish: unconfirmed messages in flight at most */
    int prefetch;     /* drain: basic.qos prefetch count */
    long payload;     /* publish: bytes of padding in the args (0 = conveyor.add(i, 1)) */
    int echo;         /* drain: store the message body as the result (conveyor.echo) */
    long result_ttl;  /* drain: seconds the stored results live */
    long warmup;      /* roundtrip: calls made before the measured ones */
    double timeout;   /* seconds the whole run may take */
};

/* Seconds on the monotonic clock. */
double now_seconds(void);

/* Prints "conveyor-ceiling: <message>" on stderr and exits 1. */
void die(const char *format, ...) __attribute__((noreturn, format(printf, 1, 2)));

/* Dies with the reason unless the RPC reply is normal. */
void check_reply(amqp_rpc_reply_t reply, const char *what);

/* Connects, logs in and opens channel 1. */
amqp_connection_state_t amqp_open(const struct options *options);

/* Closes channel 1 and the connection. */
void amqp_shut(amqp_connection_state_t connection);

/* The subcommands; each prints one JSON line on stdout and returns the exit status. */
int run_publish(const struct options *options);
int run_drain(const struct options *options);
int run_roundtrip(const struct options *options);
int run_delete(const struct options *options, char **names, int count);

#endif

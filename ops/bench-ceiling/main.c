/*
 * conveyor-ceiling publish|drain|roundtrip|delete [options] — the raw ceilings of ops/bench.
 *
 *   publish --queue Q --count N [--window 1000] [--payload BYTES]
 *       Publishes N persistent, mandatory Celery-format messages to Q with a sliding window of
 *       publisher confirms; prints {"count", "seconds", "failed", ...}.
 *   drain --queue Q --count N [--prefetch 1000] [--echo] [--result-ttl 86400]
 *       Consumes N messages, stores a Celery SUCCESS result for each in Redis (pipelined
 *       SETEX + PUBLISH), acks after storing; prints {"count", "seconds", ...}.
 *   roundtrip --queue Q --count N [--warmup 20]
 *       With a `drain` consuming Q: warmup + N calls one at a time (subscribe to the result
 *       channel, publish with a confirm, wait for confirm and result); prints
 *       {"count", "warmup", "latencies_us": [...]} for the N measured calls.
 *   delete NAME...
 *       Deletes the queues NAME and NAME.dead and the exchange NAME (what a bench row declared).
 *
 * Common: --amqp-host --amqp-port --user --password --vhost --redis-host --redis-port --timeout.
 */
#include "ceiling.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long number(const char *text, const char *name) {
    char *end = NULL;
    long value = strtol(text, &end, 10);
    if (end == text || *end != '\0' || value < 0) die("--%s needs a non-negative integer, got '%s'", name, text);
    return value;
}

int main(int argc, char **argv) {
    if (argc < 2) die("usage: conveyor-ceiling publish|drain|roundtrip|delete [options]");
    const char *command = argv[1];
    struct options options = {
        .amqp_host = "127.0.0.1", .amqp_port = 5672, .amqp_user = "guest", .amqp_password = "guest",
        .amqp_vhost = "/", .redis_host = "127.0.0.1", .redis_port = 6379, .queue = NULL, .count = 0,
        .window = 1000, .prefetch = 1000, .payload = 0, .echo = 0, .timeout = 120, .result_ttl = 86400, .warmup = 20,
    };
    static const struct option long_options[] = {
        {"amqp-host", required_argument, 0, 'H'}, {"amqp-port", required_argument, 0, 'P'},
        {"user", required_argument, 0, 'u'},      {"password", required_argument, 0, 'p'},
        {"vhost", required_argument, 0, 'v'},     {"redis-host", required_argument, 0, 'r'},
        {"redis-port", required_argument, 0, 'R'}, {"queue", required_argument, 0, 'q'},
        {"count", required_argument, 0, 'n'},     {"window", required_argument, 0, 'w'},
        {"prefetch", required_argument, 0, 'f'},  {"payload", required_argument, 0, 'b'},
        {"echo", no_argument, 0, 'e'},            {"timeout", required_argument, 0, 't'},
        {"result-ttl", required_argument, 0, 'T'}, {"warmup", required_argument, 0, 'W'},
        {0, 0, 0, 0},
    };
    optind = 2;
    int option;
    while ((option = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
        switch (option) {
        case 'H': options.amqp_host = optarg; break;
        case 'P': options.amqp_port = (int)number(optarg, "amqp-port"); break;
        case 'u': options.amqp_user = optarg; break;
        case 'p': options.amqp_password = optarg; break;
        case 'v': options.amqp_vhost = optarg; break;
        case 'r': options.redis_host = optarg; break;
        case 'R': options.redis_port = (int)number(optarg, "redis-port"); break;
        case 'q': options.queue = optarg; break;
        case 'n': options.count = number(optarg, "count"); break;
        case 'w': options.window = number(optarg, "window"); break;
        case 'f': options.prefetch = (int)number(optarg, "prefetch"); break;
        case 'b': options.payload = number(optarg, "payload"); break;
        case 'e': options.echo = 1; break;
        case 'W': options.warmup = number(optarg, "warmup"); break;
        case 't': options.timeout = (double)number(optarg, "timeout"); break;
        case 'T':
            options.result_ttl = number(optarg, "result-ttl");
            if (options.result_ttl == 0) die("--result-ttl must be at least 1 second (results are stored with SETEX)");
            break;
        default: die("unknown option; see the comment at the top of main.c");
        }
    }
    if (strcmp(command, "delete") == 0) return run_delete(&options, argv + optind, argc - optind);
    if (options.queue == NULL || options.count < 1) die("%s needs --queue and --count >= 1", command);
    if (options.window < 1 || options.prefetch < 1 || options.prefetch > 65535) die("--window and --prefetch must be >= 1 (prefetch <= 65535)");
    if (strcmp(command, "publish") == 0) return run_publish(&options);
    if (strcmp(command, "drain") == 0) return run_drain(&options);
    if (strcmp(command, "roundtrip") == 0) return run_roundtrip(&options);
    die("unknown command '%s' (publish, drain, roundtrip or delete)", command);
}

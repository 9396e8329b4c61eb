/* config.h - the server's settings: defaults, config file, environment,
 * flags, validation, --help and --print-config.
 *
 * Precedence is flags > environment > config file > defaults. Every
 * setting is gathered as text with the place it came from, then validated
 * once at the end, so an error names the setting, its value, its source and
 * the allowed range. Engine options (sutra_options_set keys) travel the same
 * way and are checked by the engine's own parser and validator.
 */
#ifndef SUTRA_SERVER_CONFIG_H
#define SUTRA_SERVER_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sutra/sutra.h"

struct config {
	char host[256];
	uint16_t port; /* 0: any free port (the start-up line names it) */
	char data_dir[4096];
	uint32_t workers;
	uint32_t max_connections;
	uint32_t idle_timeout_ms; /* 0: never */
	uint32_t max_frame_bytes;
	uint64_t max_buffer_bytes; /* per-connection input cap, >= max_frame_bytes + 4 */
	uint32_t max_inflight;     /* max_inflight_per_connection: pipelined writes in flight */
	int response_encoding;     /* enum proto_encoding */
	int log_level;             /* enum log_level */
	uint32_t num_shards;
	bool sharded;              /* storage_mode sharded */
	uint32_t memory_threshold; /* 0: not given */
	bool semantic_analysis;
	char embedding_service_url[1024];
	sutra_options engine; /* dimension and durability live here */
};

enum config_result {
	CONFIG_RUN = 0,  /* start the server */
	CONFIG_EXIT = 1, /* --help / --print-config done: exit 0 */
	CONFIG_BAD = 2   /* message printed to stderr: exit 2 */
};

/* Loads the configuration from argv, the environment and the config file. */
int config_load(struct config *c, int argc, char **argv);
/* Logs the accepted-but-unused compatibility settings (after the log level
 * is set). */
void config_log_notes(const struct config *c);
/* "always", "none" or "interval:MS" into out. */
void config_durability_text(const sutra_options *o, char *out, size_t n);

#endif

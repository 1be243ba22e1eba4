/*
 * Leveled logging to stderr, one line per call. The level is process-wide (set once at
 * start by main); log_enabled() lets hot paths skip formatting.
 */
#ifndef REGULARS_LOG_H
#define REGULARS_LOG_H

enum log_level { LOG_ERROR = 0, LOG_WARN = 1, LOG_INFO = 2, LOG_DEBUG = 3 };

/** Sets the process-wide level. */
void log_set_level(enum log_level level);
/** Parses "error|warn|info|debug"; returns the level or -1. */
int log_parse_level(const char *s);
/** Returns non-zero when messages at level are written. */
int log_enabled(enum log_level level);
/** Writes one line "<iso time> <level> <message>\n" to stderr when level is enabled. */
void log_write(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_write(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_write(LOG_DEBUG, __VA_ARGS__)

#endif

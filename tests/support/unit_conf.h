/*
 * unit_conf: a configuration for unit tests, written from text into a fresh temporary
 * directory and loaded with pw_config_load, and removed again afterwards.
 */
#ifndef PW_UNIT_CONF_H
#define PW_UNIT_CONF_H

#include "config.h"

/* Creates a directory from TEMPLATE (mkdtemp syntax, modified in place), writes TEXT to
 * pw.conf in it and loads it into *CONF. Returns 0, or -1 with the reason on stderr. */
int pw_unit_conf_open(char *template, const char *text, struct pw_config **conf);

/* Frees CONF and removes DIR with everything in it. Returns 0 or -1. */
int pw_unit_conf_close(struct pw_config *conf, const char *dir);

#endif

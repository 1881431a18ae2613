/*
 * config: the whole configuration schema of docs/configuration.md, loaded from libconfig syntax,
 * validated and turned into plain structures that every other module only reads. Every error
 * is reported as "FILE:LINE: message". Loading is table-driven: one walker over per-section
 * tables of keys, so unknown keys, types and defaults are handled in one place.
 */
#ifndef PW_CONFIG_H
#define PW_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "calendar.h"

enum pw_kind { PW_KIND_CUMULATIVE = 0, PW_KIND_LEVEL, PW_KIND_STANDARD, PW_KIND_MILESTONE };
enum pw_pace { PW_PACE_DEFAULT = 0, PW_PACE_LINEAR, PW_PACE_QUARTERLY, PW_PACE_STEP };
enum pw_receiver_type {
  PW_RECV_WEBHOOK = 0,
  PW_RECV_DINGTALK,
  PW_RECV_WECOM,
  PW_RECV_FEISHU,
  PW_RECV_EMAIL,
  PW_RECV_LOG
};

struct pw_strlist {
  char **items;
  int n;
};

struct pw_daemon_conf {
  char *state_dir; /* absolute */
  char *user;      /* "" or the user a daemon started as root becomes */
  char *timezone;
  int log_level; /* enum pw_log_level */
  char *http_listen;
  char *http_token;
  char *rrdcached;
  char *public_url; /* "" or an http(s) URL without a trailing slash */
  int64_t max_transfers;
  int64_t http_max_connections;
  int64_t http_timeout; /* seconds */
  const char *cfg_file; /* the file and line of state_dir, for the checks of -t */
  int state_dir_line;
  char *http_trusted_proxy; /* "" or the reverse proxy whose X-Forwarded-For is believed */
  int64_t retention;        /* seconds spool/dead/ and briefings/ files are kept */
  int64_t audit_max_bytes;  /* audit.log's size beyond which it is rotated */
};

struct pw_domain {
  char *id;
  char *name;
  int line;
};

/* A person to reach about a department's indicators (docs/configuration.md "departments"). */
struct pw_contact {
  char *name;
  char *mobile;
};

struct pw_department {
  char *id;
  char *name;
  struct pw_strlist receivers;
  int *receiver_idx;               /* resolved indices into conf->receivers */
  struct pw_strlist contacts_text; /* "张三 13800000000" as written */
  struct pw_contact *contacts;     /* parsed from contacts_text */
  int n_contacts;
  /* Reporting deadlines (docs/configuration.md "departments"), for its indicators that set none:
   * report_day 1-31 (monthly figures), or report_after_quarter in seconds (quarterly), 0 when
   * not set; report_remind in seconds, valid when has_report_remind. */
  int64_t report_day, report_after_quarter, report_remind;
  int has_report_day, has_report_after_quarter, has_report_remind;
  int line;
};

struct pw_source {
  char *id;
  char *name; /* for people ("县卫健局数据接口"), or NULL: then the id is shown */
  char *url;  /* as written, after ${} substitution */
  char *file; /* absolute path for file sources (file:// or a plain path), else NULL */
  char *format;
  int64_t interval, timeout, stale_after; /* seconds; stale_after 0 = not set */
  int64_t max_bytes;
  struct pw_strlist headers;
  char *as_of; /* NULL when not set */
  int tls_verify;
  char *ca_file;
  char *charset;
  char csv_delimiter;
  char *proxy;
  const char *cfg_file;
  int line;
  int url_line, ca_file_line; /* lines of those keys (the source's line when absent) */
  int *indicators;            /* the indices of the indicators it feeds, in configuration order */
  int n_indicators;
};

struct pw_target {
  int year;
  int has_annual, has_baseline, has_quarters, has_standard;
  double annual, baseline, standard;
  double quarters[4];
  int64_t *due;    /* milestone: n_stages entries, the end of each due day, 0 = not set */
  int provisional; /* an assumed target (暂定), not one issued */
  char *basis;     /* how the target was set ("参照2023年目标测算"), or NULL */
  int line;
};

struct pw_indicator {
  char *id;
  char *name;
  char *domain_id;
  char *department_id; /* NULL when none */
  char *unit;
  char *source_id; /* NULL when none */
  char *path;
  char *as_of;
  char *note_path;      /* the `note` key: where the figure's note is in the source, or NULL */
  char *standard_label; /* what the briefing calls the standard: "标准" unless set */
  char *published_by;   /* who publishes the figure ("省人社厅"), or NULL */
  char *target_from;    /* who issues the target ("市里"), or NULL */
  int headline;         /* a headline figure of the briefing's 总体情况 */
  int domain, department, source; /* indices; -1 for none */
  enum pw_kind kind;
  enum pw_pace pace; /* as written; PW_PACE_DEFAULT means quarterly if a year has quarters */
  int direction_down;
  int carry;
  double lag_warn, lag_crit;
  int64_t stale_after;
  /* The reporting deadline in force (docs/judgement.md "Reporting deadlines"), its own or its
   * department's: report_day 1-31 for a monthly figure or report_after_quarter (seconds) for a
   * quarterly one, both 0 without a deadline; report_remind (seconds) is how long before the
   * deadline the reminder goes. The has_ flags say what the indicator itself wrote. */
  int64_t report_day, report_after_quarter, report_remind;
  int has_report_day, has_report_after_quarter, has_report_remind;
  struct pw_strlist stages;
  struct pw_target *targets;
  int n_targets;
  const char *cfg_file;
  int line;
};

struct pw_receiver {
  char *id;
  enum pw_receiver_type type;
  char *url;
  char *secret;
  char *from;
  struct pw_strlist to;
  char *username, *password;
  char *proxy;
  int follow_redirects; /* 0: a 3xx answer is a failed delivery */
  int tls_verify;
  char *ca_file;
  int64_t timeout;
  int64_t rate_per_minute; /* 0 = none */
  struct pw_strlist at_mobiles;
  int at_all;
  char *keyword;
  struct pw_strlist mentioned_mobiles;
  int line;
  const char *cfg_file;
  int ca_file_line; /* the line of ca_file (the receiver's line when absent) */
};

struct pw_alerting {
  int64_t for_s, repeat, group_wait, give_up, source_down_after;
  int64_t stale_repeat; /* reminder interval of `stale` alerts */
  int send_resolved;
  struct pw_strlist receivers, escalate;
  int *receiver_idx, *escalate_idx;
  int has_quiet_hours;
  int quiet_start, quiet_end; /* minutes after local midnight */
};

struct pw_silence {
  char *indicator;   /* an indicator id, or "source:<source id>" */
  int indicator_idx; /* -1 for a source's silence */
  int source_idx;    /* -1 for an indicator's silence */
  int64_t until;     /* instant the silence ends */
  char *reason;
  int line;
};

struct pw_briefing {
  int weekday; /* 1 = Monday .. 7 = Sunday */
  int minute;  /* minutes after local midnight */
  char *title;
  int title_set;      /* title was written: it is the programme's name in alerts too */
  char *issuer;       /* the issuing office ("县府办"), or NULL */
  char *actions_file; /* absolute path of the 下步举措 text, or NULL (docs/briefing.md) */
  struct pw_strlist receivers;
  int *receiver_idx;
};

/* A value a lazy load left unresolved (pw_config_load_flags): the string the key holds, and
 * why it could not be resolved ("FILE:LINE: environment variable X is not set"). */
struct pw_config_unresolved {
  const char *value;
  const char *why;
};

struct pw_config {
  char *path; /* absolute path of the main file */
  char *dir;  /* its directory */
  struct pw_daemon_conf daemon;
  struct pw_domain *domains;
  int n_domains;
  struct pw_department *departments;
  int n_departments;
  struct pw_source *sources;
  int n_sources;
  struct pw_indicator *indicators;
  int n_indicators;
  struct pw_receiver *receivers;
  int n_receivers;
  struct pw_alerting alerting;
  struct pw_silence *silences;
  int n_silences;
  struct pw_briefing briefing;
  struct pw_calendar cal;
  struct pw_config_unresolved *unresolved; /* secrets a lazy load left unresolved */
  int n_unresolved;
  struct pw_config_arena *arena; /* owns every allocation above */
  int refs; /* holders of this generation (docs/architecture.md): the daemon, work in flight */
};

/* Loads and validates PATH. On success returns 0 and *OUT (owned; free with pw_config_free).
 * As a side effect the process time zone is set to daemon.timezone. On failure returns
 * -EINVAL (or -ENOENT, -ENOMEM) and writes "FILE:LINE: message" into ERR. */
int pw_config_load(const char *path, struct pw_config **out, char *err, size_t errlen);

/* Flags of pw_config_load_flags. PW_CONFIG_LAZY_SECRETS: a ${NAME} whose variable is unset, or
 * a *_file that cannot be read, in a key that carries a secret or an endpoint (a receiver's
 * url, secret, password, username, proxy; a source's url, headers, proxy; the daemon's
 * http_token; their *_file variants) does not fail the load: the key keeps its text as written
 * (or "" for a *_file) and is recorded as unresolved, so a command that never uses it runs
 * (docs/configuration.md#environment-variables). Any other key fails as always. */
enum { PW_CONFIG_LAZY_SECRETS = 1 };

/* As pw_config_load, with FLAGS (0 is pw_config_load). */
int pw_config_load_flags(const char *path, unsigned flags, struct pw_config **out, char *err,
                         size_t errlen);

/* Whether VALUE (a string CONF holds, or NULL) is usable: 0, or -EINVAL with why a lazy load
 * left it unresolved ("FILE:LINE: environment variable DING_TOKEN is not set") in ERR. A
 * command calls it for every key it is about to use. Any thread. */
int pw_config_require(const struct pw_config *conf, const char *value, char *err, size_t errlen);

/* A configuration is one generation of the daemon (docs/architecture.md): a reload builds a new
 * one and swaps it in, and the old one lives on while work started under it (a delivery, a
 * render, a briefing, an HTTP request) still holds it. pw_config_load returns it with one
 * reference; pw_config_ref takes another and returns CONF; pw_config_free drops one and frees
 * everything the configuration owns with the last. Loop thread only. Accepts NULL. */
struct pw_config *pw_config_ref(struct pw_config *conf);
void pw_config_free(struct pw_config *conf);

/* The index of indicator ID, or -1. */
int pw_config_indicator_index(const struct pw_config *conf, const char *id);

/* The index of department ID, or -1. */
int pw_config_department_index(const struct pw_config *conf, const char *id);

/* The index of the indicator TEXT names as a department writes it in a spreadsheet: its id, or
 * else its configured name when exactly one indicator has that name (docs/spreadsheets.md).
 * -1 when none or the name is ambiguous. */
int pw_config_indicator_find(const struct pw_config *conf, const char *text);

/* The target of IND for YEAR, or NULL when none is configured. */
const struct pw_target *pw_config_target(const struct pw_indicator *ind, int year);

/* The effective pace of IND for target TG (resolves PW_PACE_DEFAULT). */
enum pw_pace pw_config_pace(const struct pw_indicator *ind, const struct pw_target *tg);

/* Whether the values of key KEY are secrets that no message shows, not even in part: a
 * receiver's secret and password, the daemon's http_token and a source's headers (which carry
 * Authorization). A URL (url, proxy, public_url) is shown only through pw_redact_url (util.h).
 * Any thread. */
int pw_config_key_is_secret(const char *key);

/* Names for enums, as written in the configuration. */
const char *pw_kind_name(enum pw_kind kind);
const char *pw_pace_name(enum pw_pace pace);
const char *pw_receiver_type_name(enum pw_receiver_type type);

#endif

/*
 * config_sections: the tables of keys of every section but the indicators (config.c loads
 * them in order, config_keys.c walks them): the daemon, domains, departments, sources,
 * receivers, alerting, silences and the briefing, each key with its own function when it has
 * a syntax or a rule of its own.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <iconv.h>
#include <libconfig.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "config.h"
#include "config_loader.h"
#include "log.h"
#include "util.h"
#include "value.h"

/* ---- daemon ---- */

static int check_hostport(const char *text) {
  const char *colon = strrchr(text, ':');
  char *end;
  long port;

  if (colon == NULL || colon == text)
    return -EINVAL;
  if (text[0] == '[' && colon[-1] != ']')
    return -EINVAL;
  port = strtol(colon + 1, &end, 10);
  if (*end != '\0' || colon[1] == '\0' || port < 1 || port > 65535)
    return -EINVAL;
  return 0;
}

/* state_dir is relative to the configuration file's directory. */
static int daemon_state_dir(struct loader *ld, const struct item *it, const struct key_spec *k,
                            const config_setting_t *s) {
  char **dir = FIELD(it, k, char *);
  char *abs;

  if ((*dir)[0] == '\0')
    return pw_config_fail(ld, s, "state_dir must not be empty");
  abs = pw_path_join(ld->conf->dir, *dir);
  if (abs == NULL)
    return pw_config_fail(ld, it->g, "out of memory");
  *dir = pw_config_strdup(ld, abs);
  free(abs);
  return *dir ? 0 : pw_config_fail(ld, it->g, "out of memory");
}

/* The time zone of the calendar, and of the process (docs/configuration.md). */
static int daemon_timezone(struct loader *ld, const struct item *it, const struct key_spec *k,
                           const config_setting_t *s) {
  const char *tz = *FIELD(it, k, char *);

  if (pw_calendar_init(&ld->conf->cal, tz) < 0)
    return pw_config_fail(ld, s ? s : it->g, "time zone '%s' is not in the system's zone database",
                          tz);
  return 0;
}

static int daemon_log_level(struct loader *ld, const struct item *it, const struct key_spec *k,
                            const config_setting_t *s) {
  enum pw_log_level level = PW_LOG_INFO;
  char *text;

  if (s != NULL) {
    if (pw_config_read_string(ld, s, "log_level", &text) < 0)
      return -EINVAL;
    if (pw_log_level_parse(text, &level) < 0)
      return pw_config_fail(ld, s, "log_level '%s' must be error, warn, info or debug", text);
  }
  *FIELD(it, k, int) = (int)level;
  return 0;
}

static int daemon_http_listen(struct loader *ld, const struct item *it, const struct key_spec *k,
                              const config_setting_t *s) {
  const char *text = *FIELD(it, k, char *);

  if (text[0] != '\0' && check_hostport(text) < 0)
    return pw_config_fail(
        ld, s, "http_listen '%s' must be HOST:PORT (e.g. \"127.0.0.1:9464\") or \"\"", text);
  return 0;
}

/* "" or one numeric address, IPv4 or IPv6, without a port (docs/http.md "Behind HTTPS"). */
static int daemon_trusted_proxy(struct loader *ld, const struct item *it, const struct key_spec *k,
                                const config_setting_t *s) {
  const char *text = *FIELD(it, k, char *);
  unsigned char buf[16];

  (void)k;
  if (text[0] != '\0' && inet_pton(AF_INET, text, buf) != 1 && inet_pton(AF_INET6, text, buf) != 1)
    return pw_config_fail(ld, s,
                          "http_trusted_proxy '%s' must be the reverse proxy's numeric address "
                          "(e.g. \"127.0.0.1\" or \"::1\", no port) or \"\"",
                          text);
  return 0;
}

static int daemon_rrdcached(struct loader *ld, const struct item *it, const struct key_spec *k,
                            const config_setting_t *s) {
  const char *text = *FIELD(it, k, char *);

  if (text[0] != '\0' && strncmp(text, "unix:", 5) != 0 && check_hostport(text) < 0)
    return pw_config_fail(ld, s, "rrdcached '%s' must be \"unix:/path\", HOST:PORT or \"\"", text);
  return 0;
}

/* max_transfers and http_max_connections. */
static int daemon_at_least_1(struct loader *ld, const struct item *it, const struct key_spec *k,
                             const config_setting_t *s) {
  if (*FIELD(it, k, int64_t) < 1)
    return pw_config_fail(ld, s, "%s must be >= 1", k->name);
  return 0;
}

/* public_url: "" or an absolute http(s) URL people reach the status server at; links are made
 * by appending paths, so a trailing slash is dropped. */
static int daemon_public_url(struct loader *ld, const struct item *it, const struct key_spec *k,
                             const config_setting_t *s) {
  char *url = *FIELD(it, k, char *), shown[512];
  const char *host;
  size_t n = strlen(url), i;

  if (n == 0)
    return 0;
  host = strncmp(url, "http://", 7) == 0    ? url + 7
         : strncmp(url, "https://", 8) == 0 ? url + 8
                                            : NULL;
  for (i = 0; i < n && host != NULL; i++)
    if ((unsigned char)url[i] <= 0x20 || url[i] == 0x7F || url[i] == '?' || url[i] == '#' ||
        url[i] == '"' || url[i] == '<' || url[i] == '>')
      host = NULL;
  if (host == NULL || host[0] == '\0' || host[0] == '/' || host[0] == ':')
    return pw_config_fail(ld, s,
                          "public_url '%s' must be an http:// or https:// URL with a host and no "
                          "spaces, query or fragment (e.g. \"https://pacewatch.example.gov.cn\") "
                          "or \"\"",
                          pw_config_shown("public_url", url, shown, sizeof(shown)));
  while (n > 0 && url[n - 1] == '/')
    url[--n] = '\0';
  return 0;
}

/* retention: at least a day (docs/configuration.md "daemon"). */
static int daemon_retention(struct loader *ld, const struct item *it, const struct key_spec *k,
                            const config_setting_t *s) {
  if (*FIELD(it, k, int64_t) < 86400)
    return pw_config_fail(ld, s, "retention must be at least 1d");
  return 0;
}

/* audit_max_bytes: at least 1024, so a rotation keeps some lines. */
static int daemon_audit_max(struct loader *ld, const struct item *it, const struct key_spec *k,
                            const config_setting_t *s) {
  if (*FIELD(it, k, int64_t) < 1024)
    return pw_config_fail(ld, s, "audit_max_bytes must be >= 1024");
  return 0;
}

#define D(f) offsetof(struct pw_daemon_conf, f)
static const struct key_spec daemon_keys[] = {
    {"state_dir", K_STRING, D(state_dir), NO_HAS, 1, NULL, 0, daemon_state_dir},
    {"user", K_STRING, D(user), NO_HAS, 0, "", 0, NULL},
    {"timezone", K_STRING, D(timezone), NO_HAS, 0, "Asia/Shanghai", 0, daemon_timezone},
    {"log_level", K_FN, D(log_level), NO_HAS, 0, NULL, 0, daemon_log_level},
    {"http_listen", K_STRING, D(http_listen), NO_HAS, 0, "127.0.0.1:9464", 0, daemon_http_listen},
    {"http_token", K_STRING, D(http_token), NO_HAS, 0, "", 0, NULL},
    {"http_token_file", K_FN, D(http_token), NO_HAS, 0, NULL, 0, pw_config_key_secret_file},
    {"rrdcached", K_STRING, D(rrdcached), NO_HAS, 0, "", 0, daemon_rrdcached},
    {"public_url", K_STRING, D(public_url), NO_HAS, 0, "", 0, daemon_public_url},
    {"max_transfers", K_INT, D(max_transfers), NO_HAS, 0, "64", 0, daemon_at_least_1},
    {"http_max_connections", K_INT, D(http_max_connections), NO_HAS, 0, "256", 0,
     daemon_at_least_1},
    {"http_timeout", K_DURATION, D(http_timeout), NO_HAS, 0, "10s", 0, NULL},
    {"http_trusted_proxy", K_STRING, D(http_trusted_proxy), NO_HAS, 0, "", 0, daemon_trusted_proxy},
    {"retention", K_DURATION, D(retention), NO_HAS, 0, "400d", 0, daemon_retention},
    {"audit_max_bytes", K_INT, D(audit_max_bytes), NO_HAS, 0, "10485760", 0, daemon_audit_max},
    {NULL, 0, 0, 0, 0, NULL, 0, NULL}};
#undef D

int pw_config_load_daemon(struct loader *ld, config_t *cfg) {
  struct item it = {
      config_lookup(cfg, "daemon"), &ld->conf->daemon, 0, "the daemon group", "", "", NULL};

  if (it.g == NULL)
    return pw_config_fail(ld, config_root_setting(cfg),
                          "the configuration lacks the required group 'daemon' (with state_dir)");
  ld->conf->daemon.cfg_file = pw_config_keep_file(ld, it.g);
  ld->conf->daemon.state_dir_line =
      pw_config_key_line(it.g, "state_dir", (int)config_setting_source_line(it.g));
  return pw_config_walk(ld, &it, daemon_keys);
}

/* ---- domains and departments ---- */

static int department_receivers(struct loader *ld, const struct item *it, const struct key_spec *k,
                                const config_setting_t *s) {
  struct pw_department *dep = it->obj;
  char what[96];

  snprintf(what, sizeof(what), "department '%s'", dep->id);
  /* Named at the department's line, as the list of receivers may span several. */
  return pw_config_resolve_receivers(ld, it->g, &dep->receivers, &dep->receiver_idx, what);
}

/* "张三 13800000000": a name, one space, a mobile of digits (an optional leading +). */
static int department_contacts(struct loader *ld, const struct item *it, const struct key_spec *k,
                               const config_setting_t *s) {
  struct pw_department *dep = it->obj;
  int i;

  if (dep->contacts_text.n == 0)
    return 0;
  dep->contacts = pw_config_alloc(ld, sizeof(*dep->contacts) * (size_t)dep->contacts_text.n);
  if (dep->contacts == NULL)
    return pw_config_fail(ld, s, "out of memory");
  for (i = 0; i < dep->contacts_text.n; i++) {
    const char *text = dep->contacts_text.items[i], *sp = strrchr(text, ' '), *p;
    char *name;
    if (sp == NULL || sp == text || sp[1] == '\0')
      return pw_config_fail(ld, s, "department '%s': contact '%s' must be \"NAME MOBILE\"", dep->id,
                            text);
    for (p = sp + 1 + (sp[1] == '+'); *p >= '0' && *p <= '9'; p++)
      ;
    if (*p != '\0' || p - sp < 6)
      return pw_config_fail(ld, s, "department '%s': contact '%s': the mobile must be digits",
                            dep->id, text);
    name = pw_config_strdup(ld, text);
    if (name == NULL)
      return pw_config_fail(ld, s, "out of memory");
    name[sp - text] = '\0';
    dep->contacts[i].name = name;
    dep->contacts[i].mobile = name + (sp - text) + 1;
  }
  dep->n_contacts = dep->contacts_text.n;
  return 0;
}

static const struct key_spec domain_keys[] = {
    {"id", K_STRING, offsetof(struct pw_domain, id), NO_HAS, 1, NULL, 0, pw_config_key_id},
    {"name", K_STRING, offsetof(struct pw_domain, name), NO_HAS, 1, NULL, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL, 0, NULL}};

/* The reporting deadline keys of a department (docs/configuration.md): one of report_day and
 * report_after_quarter, report_remind within bounds. */
static int department_report(struct loader *ld, const struct item *it, const struct key_spec *k,
                             const config_setting_t *s) {
  const struct pw_department *dep = it->obj;

  (void)k;
  (void)s;
  return pw_config_check_report(ld, it, dep->report_day, dep->has_report_day,
                                dep->report_after_quarter, dep->has_report_after_quarter,
                                dep->report_remind, dep->has_report_remind);
}

#define DEP(f) offsetof(struct pw_department, f)
static const struct key_spec department_keys[] = {
    {"id", K_STRING, offsetof(struct pw_department, id), NO_HAS, 1, NULL, 0, pw_config_key_id},
    {"name", K_STRING, offsetof(struct pw_department, name), NO_HAS, 1, NULL, 0, NULL},
    {"receivers", K_STRLIST, offsetof(struct pw_department, receivers), NO_HAS, 0, NULL, 0,
     department_receivers},
    {"contacts", K_STRLIST, offsetof(struct pw_department, contacts_text), NO_HAS, 0, NULL, 0,
     department_contacts},
    {"report_day", K_INT, DEP(report_day), DEP(has_report_day), 0, NULL, 0, NULL},
    {"report_after_quarter", K_DURATION, DEP(report_after_quarter), DEP(has_report_after_quarter),
     0, NULL, 0, NULL},
    {"report_remind", K_DURATION, DEP(report_remind), DEP(has_report_remind), 0, NULL, 0,
     department_report},
    {NULL, 0, 0, 0, 0, NULL, 0, NULL}};
#undef DEP

int pw_config_load_domains(struct loader *ld, config_t *cfg) {
  struct pw_config *c = ld->conf;
  const config_setting_t *list = pw_config_top_list(ld, cfg, "domains", 1, &c->n_domains);
  int i;

  if (list == NULL)
    return -EINVAL;
  if (c->n_domains == 0)
    return pw_config_fail(ld, list, "domains must list at least one domain");
  c->domains = pw_config_alloc(ld, sizeof(*c->domains) * (size_t)c->n_domains);
  if (c->domains == NULL)
    return pw_config_fail(ld, list, "out of memory");
  for (i = 0; i < c->n_domains; i++) {
    char what[64];
    struct item it = {
        config_setting_get_elem(list, (unsigned)i), &c->domains[i], 0, what, "", "domain", NULL};
    snprintf(what, sizeof(what), "domain #%d", i + 1);
    if (pw_config_walk(ld, &it, domain_keys) < 0)
      return -EINVAL;
    c->domains[i].line = (int)config_setting_source_line(it.g);
  }
  return pw_config_check_unique(ld, list, c->domains, sizeof(*c->domains), c->n_domains, "domain");
}

/* After the receivers, which departments name. */
int pw_config_load_departments(struct loader *ld, config_t *cfg) {
  struct pw_config *c = ld->conf;
  const config_setting_t *list = pw_config_top_list(ld, cfg, "departments", 0, &c->n_departments);
  int i;

  if (list == NULL)
    return ld->failed ? -EINVAL : 0;
  c->departments = pw_config_alloc(ld, sizeof(*c->departments) * (size_t)(c->n_departments + 1));
  if (c->departments == NULL)
    return pw_config_fail(ld, list, "out of memory");
  for (i = 0; i < c->n_departments; i++) {
    char what[64];
    struct item it = {config_setting_get_elem(list, (unsigned)i),
                      &c->departments[i],
                      0,
                      what,
                      "",
                      "department",
                      NULL};
    snprintf(what, sizeof(what), "department #%d", i + 1);
    if (pw_config_walk(ld, &it, department_keys) < 0)
      return -EINVAL;
    c->departments[i].line = (int)config_setting_source_line(it.g);
  }
  return pw_config_check_unique(ld, list, c->departments, sizeof(*c->departments), c->n_departments,
                                "department");
}

/* ---- sources ---- */

enum { FMT_JSON = 0, FMT_CSV, FMT_PROMETHEUS, FMT_REGEX, FMT_XLSX };
static const char *const formats[] = {"json", "csv", "prometheus", "regex", "xlsx", NULL};

/* An http:// or https:// URL is polled; file:// or a plain path (relative to the configuration
 * file's directory) is read. */
static int source_url(struct loader *ld, const struct item *it, const struct key_spec *k,
                      const config_setting_t *s) {
  struct pw_source *src = it->obj;
  const char *p;
  char *abs, shown[512];

  if (pw_config_is_unresolved(ld->conf, src->url) || strncmp(src->url, "http://", 7) == 0 ||
      strncmp(src->url, "https://", 8) == 0) {
    src->file = NULL;
    return 0;
  }
  if (strncmp(src->url, "file://", 7) != 0 && strstr(src->url, "://") != NULL) {
    pw_redact_url(src->url, shown, sizeof(shown));
    return pw_config_fail(ld, s,
                          "source '%s': url '%s' must be http://, https://, file:// or a file path",
                          src->id, shown);
  }
  p = strncmp(src->url, "file://", 7) == 0 ? src->url + 7 : src->url;
  if (*p == '\0')
    return pw_config_fail(ld, s, "source '%s': empty file path", src->id);
  abs = pw_path_join(ld->conf->dir, p);
  if (abs == NULL)
    return pw_config_fail(ld, it->g, "out of memory");
  src->file = pw_config_strdup(ld, abs);
  free(abs);
  return 0;
}

/* interval, timeout (durations) and max_bytes. */
static int source_at_least_1(struct loader *ld, const struct item *it, const struct key_spec *k,
                             const config_setting_t *s) {
  if (*FIELD(it, k, int64_t) < 1)
    return pw_config_fail(ld, s, "source '%s': %s must be at least 1%s",
                          ((struct pw_source *)it->obj)->id, k->name,
                          k->type == K_DURATION ? "s" : "");
  return 0;
}

static int source_headers(struct loader *ld, const struct item *it, const struct key_spec *k,
                          const config_setting_t *s) {
  const struct pw_source *src = it->obj;
  int i;

  /* Headers carry credentials (Authorization): the message names the header by its place. */
  for (i = 0; i < src->headers.n; i++)
    if (!pw_config_is_unresolved(ld->conf, src->headers.items[i]) &&
        (strchr(src->headers.items[i], ':') == NULL || strpbrk(src->headers.items[i], "\r\n")))
      return pw_config_fail(ld, s, "source '%s': header #%d must be \"Name: value\" on one line",
                            src->id, i + 1);
  return 0;
}

/* The fetch converts a body with iconv from its charset to UTF-8: a name iconv does not know
 * is refused here rather than at every poll. */
static int source_charset(struct loader *ld, const struct item *it, const struct key_spec *k,
                          const config_setting_t *s) {
  const struct pw_source *src = it->obj;
  iconv_t cd;

  if (src->charset[0] == '\0')
    return 0;
  cd = iconv_open("UTF-8", src->charset);
  if (cd == (iconv_t)-1)
    return pw_config_fail(ld, s,
                          "source '%s': charset '%s' is unknown (iconv cannot convert it to "
                          "UTF-8; e.g. \"UTF-8\", \"GBK\", \"GB18030\", \"BIG5\")",
                          src->id, src->charset);
  iconv_close(cd);
  return 0;
}

#define S(f) offsetof(struct pw_source, f)
static const struct key_spec source_keys[] = {
    {"id", K_STRING, S(id), NO_HAS, 1, NULL, 0, pw_config_key_id},
    {"name", K_STRING, S(name), NO_HAS, 0, NULL, 0, pw_config_key_text},
    {"url", K_STRING, S(url), NO_HAS, 1, NULL, 0, source_url},
    {"format", K_STRING, S(format), NO_HAS, 1, NULL, 0, NULL},
    {"interval", K_DURATION, S(interval), NO_HAS, 0, "1h", 0, source_at_least_1},
    {"timeout", K_DURATION, S(timeout), NO_HAS, 0, "20s", 0, source_at_least_1},
    {"max_bytes", K_INT, S(max_bytes), NO_HAS, 0, "10485760", 0, source_at_least_1},
    {"headers", K_STRLIST, S(headers), NO_HAS, 0, NULL, 0, source_headers},
    {"as_of", K_STRING, S(as_of), NO_HAS, 0, NULL, 0, NULL},
    {"tls_verify", K_BOOL, S(tls_verify), NO_HAS, 0, "true", 0, NULL},
    {"ca_file", K_STRING, S(ca_file), NO_HAS, 0, NULL, 0, NULL},
    {"stale_after", K_DURATION, S(stale_after), NO_HAS, 0, NULL, 0, NULL},
    /* An xlsx body is a zip archive, never text to convert (docs/spreadsheets.md). */
    {"charset", K_STRING, S(charset), NO_HAS, 0, "UTF-8",
     BIT(FMT_JSON) | BIT(FMT_CSV) | BIT(FMT_PROMETHEUS) | BIT(FMT_REGEX), source_charset},
    {"csv_delimiter", K_CHAR, S(csv_delimiter), NO_HAS, 0, ",", BIT(FMT_CSV), NULL},
    {"proxy", K_STRING, S(proxy), NO_HAS, 0, NULL, 0, NULL},
    {NULL, 0, 0, 0, 0, NULL, 0, NULL}};
#undef S

/* Source #INDEX+1 from group G. Its format, read first, says which keys apply. */
static int load_source(struct loader *ld, const config_setting_t *g, struct pw_source *src,
                       int index) {
  const config_setting_t *fm = config_setting_get_member(g, "format");
  const char *fmt = NULL;
  char what[96];
  struct item it = {g, src, 0, what, "", "source", NULL};
  int f;

  snprintf(what, sizeof(what), "source #%d", index + 1);
  if (fm != NULL && config_setting_type(fm) == CONFIG_TYPE_STRING)
    fmt = config_setting_get_string(fm);
  for (f = 0; formats[f]; f++)
    if (fmt && strcmp(fmt, formats[f]) == 0)
      break;
  if (fm != NULL && formats[f] == NULL)
    return pw_config_fail(ld, fm, "format '%s' must be json, csv, prometheus, regex or xlsx",
                          fmt ? fmt : "?");
  it.mask = BIT(f);
  it.kind = fmt ? fmt : "";
  src->cfg_file = pw_config_keep_file(ld, g);
  src->line = (int)config_setting_source_line(g);
  src->url_line = pw_config_key_line(g, "url", src->line);
  src->ca_file_line = pw_config_key_line(g, "ca_file", src->line);
  return pw_config_walk(ld, &it, source_keys);
}

int pw_config_load_sources(struct loader *ld, config_t *cfg) {
  struct pw_config *c = ld->conf;
  const config_setting_t *list = pw_config_top_list(ld, cfg, "sources", 0, &c->n_sources);
  int i;

  if (list == NULL)
    return ld->failed ? -EINVAL : 0;
  c->sources = pw_config_alloc(ld, sizeof(*c->sources) * (size_t)(c->n_sources + 1));
  if (c->sources == NULL)
    return pw_config_fail(ld, list, "out of memory");
  for (i = 0; i < c->n_sources; i++)
    if (load_source(ld, config_setting_get_elem(list, (unsigned)i), &c->sources[i], i) < 0)
      return -EINVAL;
  return pw_config_check_unique(ld, list, c->sources, sizeof(*c->sources), c->n_sources, "source");
}

/* ---- receivers ---- */

static const char *const receiver_types[] = {"webhook", "dingtalk", "wecom", "feishu",
                                             "email",   "log",      NULL};

/* Email goes to an SMTP server, every other type (but log) to an HTTP endpoint. */
static int receiver_url(struct loader *ld, const struct item *it, const struct key_spec *k,
                        const config_setting_t *s) {
  const struct pw_receiver *r = it->obj;
  char shown[512];

  if (pw_config_is_unresolved(ld->conf, r->url))
    return 0; /* checked by the load that resolves it (pw_config_require) */
  if (r->type == PW_RECV_EMAIL) {
    if (strncmp(r->url, "smtp://", 7) != 0 && strncmp(r->url, "smtps://", 8) != 0)
      return pw_config_fail(
          ld, s, "receiver '%s': an email url must be smtp://HOST:PORT or smtps://HOST:PORT",
          r->id);
  } else if (strncmp(r->url, "http://", 7) != 0 && strncmp(r->url, "https://", 8) != 0) {
    /* A robot's url carries its access token: the message shows it redacted. */
    pw_redact_url(r->url, shown, sizeof(shown));
    return pw_config_fail(ld, s, "receiver '%s': url '%s' must be http:// or https://", r->id,
                          shown);
  }
  return 0;
}

static int receiver_to(struct loader *ld, const struct item *it, const struct key_spec *k,
                       const config_setting_t *s) {
  const struct pw_receiver *r = it->obj;

  if (r->to.n == 0)
    return pw_config_fail(ld, s, "receiver '%s': 'to' must name at least one address", r->id);
  return 0;
}

/* The chat robots limit how often they may be called; the default keeps under their limits. */
static int receiver_rate(struct loader *ld, const struct item *it, const struct key_spec *k,
                         const config_setting_t *s) {
  struct pw_receiver *r = it->obj;

  if (s == NULL)
    r->rate_per_minute = (r->type == PW_RECV_DINGTALK || r->type == PW_RECV_WECOM) ? 20
                         : r->type == PW_RECV_FEISHU                               ? 100
                                                                                   : 0;
  return 0;
}

#define R(f) offsetof(struct pw_receiver, f)
#define NOT_LOG                                                                                    \
  (BIT(PW_RECV_WEBHOOK) | BIT(PW_RECV_DINGTALK) | BIT(PW_RECV_WECOM) | BIT(PW_RECV_FEISHU) |       \
   BIT(PW_RECV_EMAIL))
#define DING_FEISHU (BIT(PW_RECV_DINGTALK) | BIT(PW_RECV_FEISHU))
static const struct key_spec receiver_keys[] = {
    {"id", K_STRING, R(id), NO_HAS, 1, NULL, 0, pw_config_key_id},
    {"type", K_MANUAL, 0, NO_HAS, 1, NULL, 0, NULL},
    {"url", K_STRING, R(url), NO_HAS, 1, NULL, NOT_LOG, receiver_url},
    {"secret", K_STRING, R(secret), NO_HAS, 0, NULL, DING_FEISHU, NULL},
    {"secret_file", K_FN, R(secret), NO_HAS, 0, NULL, DING_FEISHU, pw_config_key_secret_file},
    {"from", K_STRING, R(from), NO_HAS, 1, NULL, BIT(PW_RECV_EMAIL), NULL},
    {"to", K_STRLIST, R(to), NO_HAS, 1, NULL, BIT(PW_RECV_EMAIL), receiver_to},
    {"username", K_STRING, R(username), NO_HAS, 0, "", BIT(PW_RECV_EMAIL), NULL},
    {"password", K_STRING, R(password), NO_HAS, 0, "", BIT(PW_RECV_EMAIL), NULL},
    {"password_file", K_FN, R(password), NO_HAS, 0, NULL, BIT(PW_RECV_EMAIL),
     pw_config_key_secret_file},
    {"proxy", K_STRING, R(proxy), NO_HAS, 0, NULL, NOT_LOG, NULL},
    {"tls_verify", K_BOOL, R(tls_verify), NO_HAS, 0, "true", NOT_LOG, NULL},
    {"follow_redirects", K_BOOL, R(follow_redirects), NO_HAS, 0, "false", NOT_LOG, NULL},
    {"ca_file", K_STRING, R(ca_file), NO_HAS, 0, NULL, NOT_LOG, NULL},
    {"timeout", K_DURATION, R(timeout), NO_HAS, 0, "20s", NOT_LOG, NULL},
    {"rate_per_minute", K_INT, R(rate_per_minute), NO_HAS, 0, NULL, NOT_LOG, receiver_rate},
    {"at_mobiles", K_STRLIST, R(at_mobiles), NO_HAS, 0, NULL, BIT(PW_RECV_DINGTALK), NULL},
    {"at_all", K_BOOL, R(at_all), NO_HAS, 0, "false", BIT(PW_RECV_DINGTALK), NULL},
    {"keyword", K_STRING, R(keyword), NO_HAS, 0, NULL, BIT(PW_RECV_DINGTALK), NULL},
    {"mentioned_mobiles", K_STRLIST, R(mentioned_mobiles), NO_HAS, 0, NULL, BIT(PW_RECV_WECOM),
     NULL},
    {NULL, 0, 0, 0, 0, NULL, 0, NULL}};
#undef R

/* Receiver #INDEX+1 from group G. Its type, read first, says which keys apply. */
static int load_receiver(struct loader *ld, const config_setting_t *g, struct pw_receiver *r,
                         int index) {
  const config_setting_t *tm = config_setting_get_member(g, "type");
  const char *type = NULL;
  char what[96];
  struct item it = {g, r, 0, what, "", "receiver", NULL};
  int t;

  snprintf(what, sizeof(what), "receiver #%d", index + 1);
  if (config_setting_type(g) != CONFIG_TYPE_GROUP)
    return pw_config_fail(ld, g, "%s must be a group { ... }", what);
  if (tm == NULL)
    return pw_config_fail(ld, g, "%s lacks the required key 'type'", what);
  if (config_setting_type(tm) == CONFIG_TYPE_STRING)
    type = config_setting_get_string(tm);
  for (t = 0; receiver_types[t]; t++)
    if (type && strcmp(type, receiver_types[t]) == 0)
      break;
  if (receiver_types[t] == NULL)
    return pw_config_fail(
        ld, tm, "receiver type '%s' must be webhook, dingtalk, wecom, feishu, email or log",
        type ? type : "?");
  r->type = (enum pw_receiver_type)t;
  r->line = (int)config_setting_source_line(g);
  r->cfg_file = pw_config_keep_file(ld, g);
  r->ca_file_line = pw_config_key_line(g, "ca_file", r->line);
  it.mask = BIT(t);
  it.kind = type;
  return pw_config_walk(ld, &it, receiver_keys);
}

int pw_config_load_receivers(struct loader *ld, config_t *cfg) {
  struct pw_config *c = ld->conf;
  const config_setting_t *list = pw_config_top_list(ld, cfg, "receivers", 0, &c->n_receivers);
  int i;

  if (list == NULL)
    return ld->failed ? -EINVAL : 0;
  c->receivers = pw_config_alloc(ld, sizeof(*c->receivers) * (size_t)(c->n_receivers + 1));
  if (c->receivers == NULL)
    return pw_config_fail(ld, list, "out of memory");
  for (i = 0; i < c->n_receivers; i++)
    if (load_receiver(ld, config_setting_get_elem(list, (unsigned)i), &c->receivers[i], i) < 0)
      return -EINVAL;
  return pw_config_check_unique(ld, list, c->receivers, sizeof(*c->receivers), c->n_receivers,
                                "receiver");
}

/* ---- alerting, silences, briefing ---- */

/* "HH:MM" into minutes after midnight. */
static int parse_hhmm(const char *p, int *out) {
  if (!(p[0] >= '0' && p[0] <= '2' && p[1] >= '0' && p[1] <= '9' && p[2] == ':' && p[3] >= '0' &&
        p[3] <= '5' && p[4] >= '0' && p[4] <= '9'))
    return -EINVAL;
  *out = ((p[0] - '0') * 10 + (p[1] - '0')) * 60 + (p[3] - '0') * 10 + (p[4] - '0');
  return *out < 24 * 60 ? 0 : -EINVAL;
}

/* repeat, give_up and source_down_after. */
static int alerting_positive(struct loader *ld, const struct item *it, const struct key_spec *k,
                             const config_setting_t *s) {
  if (*FIELD(it, k, int64_t) < 1)
    return pw_config_fail(ld, s, "alerting.%s must be > 0", k->name);
  return 0;
}

static int alerting_quiet_hours(struct loader *ld, const struct item *it, const struct key_spec *k,
                                const config_setting_t *s) {
  struct pw_alerting *a = it->obj;
  char *text;

  if (s == NULL)
    return 0;
  if (pw_config_read_string(ld, s, "quiet_hours", &text) < 0)
    return -EINVAL;
  if (text[0] == '\0')
    return 0;
  if (strlen(text) != 11 || text[5] != '-' || parse_hhmm(text, &a->quiet_start) < 0 ||
      parse_hhmm(text + 6, &a->quiet_end) < 0 || a->quiet_start == a->quiet_end)
    return pw_config_fail(ld, s, "quiet_hours '%s' must be \"HH:MM-HH:MM\" (e.g. \"22:00-07:30\")",
                          text);
  a->has_quiet_hours = 1;
  return 0;
}

static int alerting_receivers(struct loader *ld, const struct item *it, const struct key_spec *k,
                              const config_setting_t *s) {
  struct pw_alerting *a = it->obj;

  return pw_config_resolve_receivers(ld, s, &a->receivers, &a->receiver_idx, "alerting.receivers");
}

static int alerting_escalate(struct loader *ld, const struct item *it, const struct key_spec *k,
                             const config_setting_t *s) {
  struct pw_alerting *a = it->obj;

  return pw_config_resolve_receivers(ld, s, &a->escalate, &a->escalate_idx, "alerting.escalate");
}

#define A(f) offsetof(struct pw_alerting, f)
static const struct key_spec alerting_keys[] = {
    {"for", K_DURATION, A(for_s), NO_HAS, 0, "0s", 0, NULL},
    {"repeat", K_DURATION, A(repeat), NO_HAS, 0, "24h", 0, alerting_positive},
    {"stale_repeat", K_DURATION, A(stale_repeat), NO_HAS, 0, "7d", 0, alerting_positive},
    {"group_wait", K_DURATION, A(group_wait), NO_HAS, 0, "30s", 0, NULL},
    {"send_resolved", K_BOOL, A(send_resolved), NO_HAS, 0, "true", 0, NULL},
    {"receivers", K_STRLIST, A(receivers), NO_HAS, 0, NULL, 0, alerting_receivers},
    {"escalate", K_STRLIST, A(escalate), NO_HAS, 0, NULL, 0, alerting_escalate},
    {"quiet_hours", K_FN, 0, NO_HAS, 0, NULL, 0, alerting_quiet_hours},
    {"give_up", K_DURATION, A(give_up), NO_HAS, 0, "48h", 0, alerting_positive},
    {"source_down_after", K_DURATION, A(source_down_after), NO_HAS, 0, "6h", 0, alerting_positive},
    {NULL, 0, 0, 0, 0, NULL, 0, NULL}};
#undef A

/* After the receivers. Without an alerting group every key takes its default. */
int pw_config_load_alerting(struct loader *ld, config_t *cfg) {
  struct item it = {
      config_lookup(cfg, "alerting"), &ld->conf->alerting, 0, "the alerting group", "", "", NULL};

  return pw_config_walk(ld, &it, alerting_keys);
}

static int silence_indicator(struct loader *ld, const struct item *it, const struct key_spec *k,
                             const config_setting_t *s) {
  struct pw_silence *sl = it->obj;
  int i;

  sl->indicator_idx = -1;
  sl->source_idx = -1;
  /* "source:ID" silences every indicator of the source and its source_down alert
   * (docs/alerts.md "Silences"). */
  if (strncmp(sl->indicator, "source:", 7) == 0) {
    for (i = 0; i < ld->conf->n_sources; i++)
      if (strcmp(ld->conf->sources[i].id, sl->indicator + 7) == 0)
        sl->source_idx = i;
    if (sl->source_idx < 0)
      return pw_config_fail(ld, s, "%s names unknown source '%s'", it->what, sl->indicator + 7);
    return 0;
  }
  sl->indicator_idx = pw_config_indicator_index(ld->conf, sl->indicator);
  if (sl->indicator_idx < 0)
    return pw_config_fail(ld, s, "%s names unknown indicator '%s'", it->what, sl->indicator);
  return 0;
}

static int silence_until(struct loader *ld, const struct item *it, const struct key_spec *k,
                         const config_setting_t *s) {
  struct pw_silence *sl = it->obj;
  char *text;

  if (pw_config_read_string(ld, s, "until", &text) < 0)
    return -EINVAL;
  if (pw_config_parse_date(text, &sl->until) < 0 && pw_date_parse(text, &sl->until) < 0)
    return pw_config_fail(ld, s, "%s: until '%s' must be a date \"YYYY-MM-DD\" or an ISO 8601 time",
                          it->what, text);
  return 0;
}

static const struct key_spec silence_keys[] = {
    {"indicator", K_STRING, offsetof(struct pw_silence, indicator), NO_HAS, 1, NULL, 0,
     silence_indicator},
    {"until", K_FN, 0, NO_HAS, 1, NULL, 0, silence_until},
    {"reason", K_STRING, offsetof(struct pw_silence, reason), NO_HAS, 0, "", 0, NULL},
    {NULL, 0, 0, 0, 0, NULL, 0, NULL}};

/* After the indicators, which silences name. */
int pw_config_load_silences(struct loader *ld, config_t *cfg) {
  struct pw_config *c = ld->conf;
  const config_setting_t *list = pw_config_top_list(ld, cfg, "silences", 0, &c->n_silences);
  int i;

  if (list == NULL)
    return ld->failed ? -EINVAL : 0;
  c->silences = pw_config_alloc(ld, sizeof(*c->silences) * (size_t)(c->n_silences + 1));
  if (c->silences == NULL)
    return pw_config_fail(ld, list, "out of memory");
  for (i = 0; i < c->n_silences; i++) {
    char what[64];
    struct item it = {
        config_setting_get_elem(list, (unsigned)i), &c->silences[i], 0, what, "", "silence", NULL};
    snprintf(what, sizeof(what), "silence #%d", i + 1);
    c->silences[i].line = (int)config_setting_source_line(it.g);
    if (pw_config_walk(ld, &it, silence_keys) < 0)
      return -EINVAL;
  }
  return 0;
}

/* A weekday and a local time, "Mon 08:00"; Monday 08:00 when absent. */
static int briefing_schedule(struct loader *ld, const struct item *it, const struct key_spec *k,
                             const config_setting_t *s) {
  static const char *const days[] = {"mon", "tue", "wed", "thu", "fri", "sat", "sun"};
  struct pw_briefing *b = it->obj;
  char *text;
  int d;

  b->weekday = 1;
  b->minute = 8 * 60;
  if (s == NULL)
    return 0;
  if (pw_config_read_string(ld, s, "schedule", &text) < 0)
    return -EINVAL;
  for (d = 0; d < 7; d++)
    if (strncasecmp(text, days[d], 3) == 0)
      break;
  if (d == 7 || strlen(text) != 9 || text[3] != ' ' || parse_hhmm(text + 4, &b->minute) < 0)
    return pw_config_fail(ld, s,
                          "briefing.schedule '%s' must be a weekday and a local time, e.g. "
                          "\"Mon 08:00\"",
                          text);
  b->weekday = d + 1;
  return 0;
}

static int briefing_receivers(struct loader *ld, const struct item *it, const struct key_spec *k,
                              const config_setting_t *s) {
  struct pw_briefing *b = it->obj;

  return pw_config_resolve_receivers(ld, s, &b->receivers, &b->receiver_idx, "briefing.receivers");
}

/* Relative to the configuration's directory, like state_dir. */
static int briefing_actions_file(struct loader *ld, const struct item *it, const struct key_spec *k,
                                 const config_setting_t *s) {
  char **file = FIELD(it, k, char *);
  char *abs;

  if (s == NULL || *file == NULL)
    return 0;
  if ((*file)[0] == '\0')
    return pw_config_fail(ld, s, "briefing.actions_file must not be empty");
  abs = pw_path_join(ld->conf->dir, *file);
  if (abs == NULL)
    return pw_config_fail(ld, it->g, "out of memory");
  *file = pw_config_strdup(ld, abs);
  free(abs);
  return *file ? 0 : pw_config_fail(ld, it->g, "out of memory");
}

/* A title written in the configuration names the programme in alerts too (docs/alerts.md). */
static int briefing_title(struct loader *ld, const struct item *it, const struct key_spec *k,
                          const config_setting_t *s) {
  struct pw_briefing *b = it->obj;

  (void)ld;
  (void)k;
  b->title_set = s != NULL;
  return 0;
}

static const struct key_spec briefing_keys[] = {
    {"schedule", K_FN, 0, NO_HAS, 0, NULL, 0, briefing_schedule},
    {"title", K_STRING, offsetof(struct pw_briefing, title), NO_HAS, 0, "公共服务指标周报", 0,
     briefing_title},
    {"issuer", K_STRING, offsetof(struct pw_briefing, issuer), NO_HAS, 0, NULL, 0,
     pw_config_key_text},
    {"actions_file", K_STRING, offsetof(struct pw_briefing, actions_file), NO_HAS, 0, NULL, 0,
     briefing_actions_file},
    {"receivers", K_STRLIST, offsetof(struct pw_briefing, receivers), NO_HAS, 0, NULL, 0,
     briefing_receivers},
    {NULL, 0, 0, 0, 0, NULL, 0, NULL}};

/* After the receivers. Without a briefing group every key takes its default. */
int pw_config_load_briefing(struct loader *ld, config_t *cfg) {
  struct item it = {
      config_lookup(cfg, "briefing"), &ld->conf->briefing, 0, "the briefing group", "", "", NULL};

  return pw_config_walk(ld, &it, briefing_keys);
}

const char *pw_receiver_type_name(enum pw_receiver_type type) {
  return (unsigned)type < 6 ? receiver_types[type] : "?";
}

/*
 * Unit tests of notify_email: the RFC 2047 subject encoding on its own, then whole messages sent
 * through a real pw_fetch on a uv loop to a real SMTP server on loopback (Debian's aiosmtpd, in
 * tests/support/smtp_sink.py) and read back with Python's email package
 * (tests/support/email_check.py): the decoded Chinese subject, the headers curl does not add,
 * the multipart/alternative text and HTML, the inline PNGs referenced by cid: with their bytes
 * intact, and the failures (a refused recipient, nobody listening). Every loop test ends with
 * uv_loop_close() == 0.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "config.h"
#include "fetch.h"
#include "notify_email.h"

#define PY "/usr/bin/python3" /* Debian's interpreter, not the pyenv shim on PATH */
#define NOW_REAL 1714579200   /* 2024-05-02T00:00:00+08:00 */

static pid_t sink_pid = -1;
static int sink_port;
static char sink_dir[] = "/tmp/pw-smtp-XXXXXX";
static char png_path[300];
static unsigned char *big_png;
static size_t big_png_len;

/* A valid 1x1 PNG (signature, IHDR, IDAT, IEND). */
static const unsigned char tiny_png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
    0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99,
    0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

/* ---- the SMTP server --------------------------------------------------------------------- */

/* Scripts sit at tests/support/ beside this file's tests/unit/ (PW_SOURCE overrides). */
static void support_path(const char *name, char *out, size_t size) {
  const char *src = getenv("PW_SOURCE");
  const char *me = __FILE__;
  const char *cut = strstr(me, "unit/test_notify_email.c");

  if (src != NULL && src[0] != '\0')
    snprintf(out, size, "%s/tests/support/%s", src, name);
  else if (cut != NULL)
    snprintf(out, size, "%.*ssupport/%s", (int)(cut - me), me, name);
  else
    snprintf(out, size, "tests/support/%s", name);
}

static int read_file(const char *path, unsigned char **out, size_t *len) {
  FILE *f = fopen(path, "rb");
  long n;

  if (f == NULL)
    return -1;
  if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) <= 0 || fseek(f, 0, SEEK_SET) != 0) {
    fclose(f);
    return -1;
  }
  *out = malloc((size_t)n);
  if (*out == NULL || fread(*out, 1, (size_t)n, f) != (size_t)n) {
    free(*out);
    fclose(f);
    return -1;
  }
  fclose(f);
  *len = (size_t)n;
  return 0;
}

static int group_setup(void **state) {
  char script[1024], cmd[2048], line[32];
  int fds[2];
  FILE *in;

  (void)state;
  /* A hung loop would otherwise hang the suite until ctest's timeout. */
  alarm(60);
  if (mkdtemp(sink_dir) == NULL)
    return -1;
  /* A noisy PNG of several KB, so that its base64 spans many lines. */
  support_path("email_check.py", script, sizeof(script));
  snprintf(png_path, sizeof(png_path), "%s/graph.png", sink_dir);
  snprintf(cmd, sizeof(cmd), PY " '%s' mkpng '%s'", script, png_path);
  if (system(cmd) != 0 || read_file(png_path, &big_png, &big_png_len) != 0) {
    fprintf(stderr, "could not make a PNG with %s\n", script);
    return -1;
  }
  unlink(png_path);
  support_path("smtp_sink.py", script, sizeof(script));
  if (pipe(fds) != 0)
    return -1;
  sink_pid = fork();
  if (sink_pid < 0)
    return -1;
  if (sink_pid == 0) {
    /* Dies with the test even when the test crashes before its teardown. */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    execl(PY, "python3", script, sink_dir, (char *)NULL);
    _exit(127);
  }
  close(fds[1]);
  in = fdopen(fds[0], "r");
  if (in == NULL || fgets(line, sizeof(line), in) == NULL) {
    fprintf(stderr, "smtp_sink.py did not print its port (is python3-aiosmtpd installed?)\n");
    return -1;
  }
  fclose(in);
  sink_port = (int)strtol(line, NULL, 10);
  return sink_port > 0 ? 0 : -1;
}

static int group_teardown(void **state) {
  DIR *d;
  struct dirent *e;
  char path[512];

  (void)state;
  if (sink_pid > 0) {
    kill(sink_pid, SIGTERM);
    waitpid(sink_pid, NULL, 0);
  }
  d = opendir(sink_dir);
  while (d != NULL && (e = readdir(d)) != NULL) {
    if (e->d_name[0] == '.')
      continue;
    snprintf(path, sizeof(path), "%s/%s", sink_dir, e->d_name);
    unlink(path);
  }
  if (d != NULL)
    closedir(d);
  rmdir(sink_dir);
  free(big_png);
  return 0;
}

/* The number of messages the sink has saved (it names them 1.eml, 2.eml, ...). */
static int saved_count(void) {
  DIR *d = opendir(sink_dir);
  struct dirent *e;
  int n = 0;

  while (d != NULL && (e = readdir(d)) != NULL)
    if (strstr(e->d_name, ".eml") != NULL)
      n++;
  if (d != NULL)
    closedir(d);
  return n;
}

/* Message N as email_check.py reads it. Returns owned JSON. */
static json_t *check_message(int n) {
  char script[1024], cmd[2048];
  FILE *p;
  json_t *j;
  json_error_t jerr;

  support_path("email_check.py", script, sizeof(script));
  snprintf(cmd, sizeof(cmd), PY " '%s' '%s/%d.eml'", script, sink_dir, n);
  p = popen(cmd, "r");
  assert_non_null(p);
  j = json_loadf(p, 0, &jerr);
  assert_int_equal(pclose(p), 0);
  if (j == NULL)
    fail_msg("email_check.py output: %s", jerr.text);
  return j;
}

/* ---- helpers ----------------------------------------------------------------------------- */

static char *to_one[] = {"ops@example.gov.cn"};
static char *to_two[] = {"ops@example.gov.cn", "chief@example.gov.cn"};
static char *to_reject[] = {"reject-me@example.gov.cn"};

static void receiver(struct pw_receiver *r, char **to, int n_to) {
  static char url[64];

  memset(r, 0, sizeof(*r));
  snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", sink_port);
  r->id = "office_mail";
  r->type = PW_RECV_EMAIL;
  r->url = url;
  r->from = "pacewatch@example.gov.cn";
  r->to.items = to;
  r->to.n = n_to;
  r->tls_verify = 1;
  r->timeout = 10;
}

/* Two lag alerts (the docs/alerts.md example and a severe one), or one resolved. */
static json_t *payload(int resolved) {
  json_t *p;

  if (resolved)
    p = json_pack("{s:i, s:s, s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:i, s:f, s:f, "
                  "s:f, s:s, s:s}]}",
                  "version", 1, "receiver", "office_mail", "alerts", "alert", "health_checkups/lag",
                  "condition", "lag", "state", "resolved", "severity", "lagging", "name",
                  "城乡居民同质同标免费健康体检人数", "department", "health", "indicator",
                  "health_checkups", "value", 60000.0, "expected", 51153.846, "target", 190000,
                  "completion_pct", 31.579, "pace_pct", 26.923, "lag", -4.656, "lag_unit", "pp",
                  "as_of", "2024-05-02T00:00:00+08:00");
  else
    p = json_pack(
        "{s:i, s:s, s:[{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:i, s:f, s:f, s:f, s:s, "
        "s:s}, {s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:f, s:i, s:f, s:f, s:f, s:s, s:s}]}",
        "version", 1, "receiver", "office_mail", "alerts", "alert", "health_checkups/lag",
        "condition", "lag", "state", "firing", "severity", "lagging", "name",
        "城乡居民同质同标免费健康体检人数", "department", "health", "indicator", "health_checkups",
        "value", 37774.0, "expected", 51153.846, "target", 190000, "completion_pct", 19.881,
        "pace_pct", 26.923, "lag", 7.042, "lag_unit", "pp", "as_of", "2024-05-02T00:00:00+08:00",
        "alert", "road_km/lag", "condition", "lag", "state", "firing", "severity", "severe", "name",
        "农村公路<改造>&提升", "department", "transport", "indicator", "road_km", "value",
        150000000.0, "expected", 400000000.0, "target", 1200000000, "completion_pct", 12.5,
        "pace_pct", 33.3, "lag", 20.8, "lag_unit", "pp", "as_of", "2024-05-01T00:00:00+08:00");
  assert_non_null(p);
  return p;
}

struct sent {
  int called, rc;
  long status;
  char error[256];
};

static void on_done(struct pw_fetch_job *job, const struct pw_fetch_result *res, void *data) {
  struct sent *s = data;

  (void)job;
  s->called++;
  s->rc = res->rc;
  s->status = res->status;
  snprintf(s->error, sizeof(s->error), "%s", res->error ? res->error : "");
}

static void on_closed(void *data) {
  (*(int *)data)++;
}

/* Sends M to URL through a real pw_fetch on a fresh loop; the loop closes cleanly. */
static void send_mail(struct pw_email *m, const char *url, struct sent *s) {
  uv_loop_t loop;
  struct pw_fetch *f = NULL;
  struct pw_fetch_request req;
  struct pw_fetch_job *job;
  int closed = 0;

  memset(s, 0, sizeof(*s));
  memset(&req, 0, sizeof(req));
  req.url = url;
  req.timeout_ms = 10000;
  req.tls_verify = 1;
  req.customize = pw_email_customize;
  req.customize_arg = m;
  assert_int_equal(uv_loop_init(&loop), 0);
  assert_int_equal(pw_fetch_init(&loop, 4, "pacewatch-test/1", &f), 0);
  assert_int_equal(pw_fetch_start(f, &req, on_done, s, &job), 0);
  assert_int_equal(uv_run(&loop, UV_RUN_DEFAULT), 0);
  assert_int_equal(s->called, 1);
  pw_fetch_close(f, on_closed, &closed);
  uv_run(&loop, UV_RUN_DEFAULT);
  assert_int_equal(closed, 1);
  assert_int_equal(uv_loop_close(&loop), 0);
}

static void sha256_hex(const unsigned char *data, size_t len, char out[65]) {
  unsigned char d[SHA256_DIGEST_LENGTH];
  int i;

  SHA256(data, len, d);
  for (i = 0; i < SHA256_DIGEST_LENGTH; i++)
    snprintf(out + 2 * i, 3, "%02x", d[i]);
}

static const char *jstr(const json_t *o, const char *key) {
  const char *s = json_string_value(json_object_get(o, key));
  if (s == NULL)
    fail_msg("no string %s in the checked message", key);
  return s;
}

/* ---- tests ------------------------------------------------------------------------------- */

/* Each encoded word holds at most 45 bytes of whole UTF-8 characters, and together they give
 * back the text. */
static void test_encode_header(void **state) {
  const char *text = "【公共服务指标】2项指标滞后：城乡居民同质同标免费健康体检人数等";
  char *enc = pw_email_encode_header(text), *p, back[512] = "";
  size_t back_len = 0;
  int words = 0;

  (void)state;
  assert_non_null(enc);
  for (p = enc; (p = strstr(p, "=?UTF-8?B?")) != NULL; words++) {
    char *end = strstr(p, "?=");
    unsigned char dec[128];
    int n, pad = 0;

    assert_non_null(end);
    p += strlen("=?UTF-8?B?");
    pad = (end[-1] == '=') + (end[-2] == '=');
    n = EVP_DecodeBlock(dec, (const unsigned char *)p, (int)(end - p)) - pad;
    assert_true(n > 0 && n <= 45);
    /* No word starts in the middle of a character. */
    assert_true((dec[0] & 0xC0) != 0x80);
    memcpy(back + back_len, dec, (size_t)n);
    back_len += (size_t)n;
    p = end + 2;
    /* Words are folded with CRLF SP. */
    if (*p != '\0')
      assert_memory_equal(p, "\r\n ", 3);
  }
  back[back_len] = '\0';
  assert_true(words >= 2);
  assert_string_equal(back, text);
  free(enc);
  enc = pw_email_encode_header("ok");
  assert_string_equal(enc, "=?UTF-8?B?b2s=?=");
  free(enc);
}

static void test_build_refuses(void **state) {
  struct pw_receiver r;
  struct pw_email *m = (struct pw_email *)1;
  json_t *empty = json_pack("{s:[]}", "alerts"), *p = payload(0);
  char err[256] = "";
  static char *bad_to[] = {"ops@example.gov.cn\r\nBcc: x@example.com"};

  (void)state;
  receiver(&r, to_one, 1);
  assert_int_equal(pw_email_build(&r, empty, NULL, NULL, NOW_REAL, &m, err, sizeof(err)), -EINVAL);
  assert_null(m);
  assert_non_null(strstr(err, "office_mail"));
  receiver(&r, bad_to, 1);
  assert_int_equal(pw_email_build(&r, p, NULL, NULL, NOW_REAL, &m, err, sizeof(err)), -EINVAL);
  receiver(&r, to_one, 0);
  assert_int_equal(pw_email_build(&r, p, NULL, NULL, NOW_REAL, &m, err, sizeof(err)), -EINVAL);
  pw_email_free(NULL);
  json_decref(empty);
  json_decref(p);
}

/* The whole message, as a mail client reads it. */
static void test_send_and_parse(void **state) {
  struct pw_receiver r;
  struct pw_email *m = NULL;
  json_t *p = payload(0), *got, *types, *images;
  const unsigned char *pngs[2] = {tiny_png, big_png};
  size_t lens[2] = {sizeof(tiny_png), big_png_len};
  char err[256], want[2][65], url[64];
  struct sent s;
  const char *text, *html;
  size_t i;
  int n = saved_count(), found[2] = {0, 0};

  (void)state;
  receiver(&r, to_two, 2);
  snprintf(url, sizeof(url), "%s", r.url);
  assert_int_equal(pw_email_build(&r, p, pngs, lens, NOW_REAL, &m, err, sizeof(err)), 0);
  send_mail(m, url, &s);
  if (s.rc != 0)
    fail_msg("send failed: %d %s", s.rc, s.error);
  assert_int_equal(s.status, 250);
  pw_email_free(m);
  assert_int_equal(saved_count(), n + 1);

  got = check_message(n + 1);
  /* The severe alert leads (docs/alerts.md: severe, lagging, then data problems). */
  assert_string_equal(jstr(got, "subject"), "【公共服务指标】2项指标滞后：农村公路<改造>&提升等");
  assert_true(json_is_true(json_object_get(got, "raw_subject_encoded")));
  assert_non_null(strstr(jstr(got, "from"), "pacewatch@example.gov.cn"));
  assert_int_equal(json_integer_value(json_object_get(got, "n_to_headers")), 1);
  assert_int_equal(json_array_size(json_object_get(got, "to")), 2);
  assert_string_equal(json_string_value(json_array_get(json_object_get(got, "to"), 1)),
                      "chief@example.gov.cn");
  assert_int_equal(json_integer_value(json_object_get(got, "date_epoch")), NOW_REAL);
  assert_non_null(strstr(jstr(got, "message_id"), "@pacewatch>"));
  /* Clean SMTP: 7-bit, CRLF only, no line past 998. */
  assert_true(json_is_true(json_object_get(got, "ascii")));
  assert_true(json_is_false(json_object_get(got, "bare_lf")));
  assert_true(json_integer_value(json_object_get(got, "max_line")) <= 998);

  types = json_object_get(got, "types");
  assert_string_equal(json_string_value(json_array_get(types, 0)), "multipart/mixed");
  assert_string_equal(json_string_value(json_array_get(types, 1)), "multipart/related");
  assert_string_equal(json_string_value(json_array_get(types, 2)), "multipart/alternative");
  assert_string_equal(json_string_value(json_array_get(types, 3)), "text/plain");
  assert_string_equal(json_string_value(json_array_get(types, 4)), "text/html");

  text = jstr(got, "text");
  html = jstr(got, "html");
  assert_non_null(strstr(text, "城乡居民同质同标免费健康体检人数（health）"));
  assert_non_null(strstr(text, "【滞后】"));
  assert_non_null(strstr(text, "【严重滞后】"));
  assert_non_null(strstr(text, "完成率19.9%，序时进度26.9%，滞后7.0个百分点"));
  /* as_of 2024-05-02T00:00 is the end of May 1st. */
  assert_non_null(strstr(text, "截至5月1日"));
  assert_non_null(strstr(text, "当前值37774，全年目标19万，序时应达51153.85"));
  assert_non_null(strstr(text, "当前值1.5亿，全年目标12亿，序时应达4亿"));
  assert_non_null(strstr(html, "农村公路&lt;改造&gt;&amp;提升"));
  assert_null(strstr(html, "<改造>"));
  assert_non_null(strstr(html, "完成率19.9%"));

  sha256_hex(tiny_png, sizeof(tiny_png), want[0]);
  sha256_hex(big_png, big_png_len, want[1]);
  images = json_object_get(got, "images");
  assert_int_equal(json_array_size(images), 2);
  for (i = 0; i < 2; i++) {
    const json_t *img = json_array_get(images, i);
    const char *cid = jstr(img, "cid");
    char ref[96];
    int k;

    assert_true(json_is_true(json_object_get(img, "png")));
    assert_string_equal(jstr(img, "disposition"), "inline");
    assert_string_equal(jstr(img, "encoding"), "base64");
    assert_int_equal(sscanf(cid, "<alert-%d@pacewatch>", &k), 1);
    assert_true(k == 0 || k == 1);
    /* Alert K's graph, referenced from the HTML. */
    assert_string_equal(jstr(img, "sha256"), want[k]);
    snprintf(ref, sizeof(ref), "cid:%.*s", (int)strlen(cid) - 2, cid + 1);
    assert_non_null(strstr(html, ref));
    found[k]++;
  }
  assert_int_equal(found[0], 1);
  assert_int_equal(found[1], 1);
  json_decref(got);
  json_decref(p);
}

/* A resolution says so; an alert without a graph has no image. */
static void test_resolved_without_graph(void **state) {
  struct pw_receiver r;
  struct pw_email *m = NULL;
  json_t *p = payload(1), *got;
  const unsigned char *pngs[1] = {NULL};
  size_t lens[1] = {0};
  char err[256], url[64];
  struct sent s;
  int n = saved_count();

  (void)state;
  receiver(&r, to_one, 1);
  snprintf(url, sizeof(url), "%s", r.url);
  assert_int_equal(pw_email_build(&r, p, pngs, lens, NOW_REAL, &m, err, sizeof(err)), 0);
  assert_non_null(strstr(pw_email_subject_header(m), "=?UTF-8?B?"));
  send_mail(m, url, &s);
  assert_int_equal(s.rc, 0);
  pw_email_free(m);
  got = check_message(n + 1);
  assert_string_equal(jstr(got, "subject"),
                      "【公共服务指标】1项指标已恢复：城乡居民同质同标免费健康体检人数");
  assert_non_null(strstr(jstr(got, "text"), "【已恢复】"));
  assert_int_equal(json_array_size(json_object_get(got, "images")), 0);
  assert_null(strstr(jstr(got, "html"), "cid:"));
  json_decref(got);
  json_decref(p);
}

/* A 550 for the only recipient is a permanent refusal and nothing is delivered. */
static void test_recipient_refused(void **state) {
  struct pw_receiver r;
  struct pw_email *m = NULL;
  json_t *p = payload(0);
  char err[256], url[64];
  struct sent s;
  int n = saved_count();

  (void)state;
  receiver(&r, to_reject, 1);
  snprintf(url, sizeof(url), "%s", r.url);
  assert_int_equal(pw_email_build(&r, p, NULL, NULL, NOW_REAL, &m, err, sizeof(err)), 0);
  send_mail(m, url, &s);
  assert_true(s.rc < 0);
  assert_int_equal(s.rc, -EPERM);
  assert_int_equal(s.status, 550);
  assert_true(s.error[0] != '\0');
  pw_email_free(m);
  assert_int_equal(saved_count(), n);
  json_decref(p);
}

/* Nobody listening: -ECONNREFUSED (worth retrying, unlike a 5xx). */
static void test_connection_refused(void **state) {
  struct pw_receiver r;
  struct pw_email *m = NULL;
  json_t *p = payload(0);
  char err[256], url[64];
  struct sent s;
  struct sockaddr_in sa;
  socklen_t sl = sizeof(sa);
  int fd = socket(AF_INET, SOCK_STREAM, 0);

  (void)state;
  /* A port that was free a moment ago and has no listener now. */
  memset(&sa, 0, sizeof(sa));
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  assert_true(fd >= 0);
  assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
  assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
  close(fd);
  snprintf(url, sizeof(url), "smtp://127.0.0.1:%d", ntohs(sa.sin_port));
  receiver(&r, to_one, 1);
  assert_int_equal(pw_email_build(&r, p, NULL, NULL, NOW_REAL, &m, err, sizeof(err)), 0);
  send_mail(m, url, &s);
  assert_int_equal(s.rc, -ECONNREFUSED);
  pw_email_free(m);
  json_decref(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_encode_header),     cmocka_unit_test(test_build_refuses),
      cmocka_unit_test(test_send_and_parse),    cmocka_unit_test(test_resolved_without_graph),
      cmocka_unit_test(test_recipient_refused), cmocka_unit_test(test_connection_refused),
  };

  /* Dates in a fixed zone, as the daemon sets daemon.timezone once per process. */
  setenv("TZ", "Asia/Shanghai", 1);
  tzset();
  return cmocka_run_group_tests(tests, group_setup, group_teardown);
}

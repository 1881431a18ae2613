/*
 * Unit tests of the notifier table: every receiver type has one; the webhook's message is one
 * JSON POST carrying the delivery id; the robots' are signed JSON POSTs (WeCom adds the graph
 * it asked for, and costs two requests); an email is one SMTP transfer built by the customize
 * hook, and a briefing without its HTML is retried later; the log receiver sends nothing; each
 * judges answers its own way (a robot's error code, an SMTP refusal, any webhook failure).
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "notifier.h"

static char *to_list[] = {"office@example.gov.cn"};

static void receiver(struct pw_receiver *r, enum pw_receiver_type type) {
  memset(r, 0, sizeof(*r));
  r->id = "r1";
  r->type = type;
  r->url = type == PW_RECV_EMAIL ? "smtp://127.0.0.1:2525" : "http://127.0.0.1:9/hook";
  r->from = "pw@example.gov.cn";
  r->to.items = to_list;
  r->to.n = 1;
  r->tls_verify = 1;
  r->timeout = 10;
}

static json_t *payload(void) {
  return json_pack("{s:i,s:s,s:s,s:s,s:[{s:s,s:s,s:s,s:s,s:s,s:s,s:s,s:f,s:f,s:f}]}", "version", 1,
                   "receiver", "r1", "delivery", "d-9", "sent_at", "2024-05-02T09:00:00+08:00",
                   "alerts", "alert", "a/lag", "condition", "lag", "state", "firing", "severity",
                   "lagging", "indicator", "a", "name", "体检人数", "lag_unit", "pp", "lag", 7.04,
                   "completion_pct", 19.9, "pace_pct", 26.9);
}

static void input(struct pw_notify_input *in, const struct pw_receiver *r, const json_t *p) {
  memset(in, 0, sizeof(*in));
  in->r = r;
  in->payload = p;
  in->delivery = "d-9";
  in->public_url = "";
  in->now_real_ms = 1714611600123LL;
}

static void test_every_type(void **state) {
  enum pw_receiver_type t;

  (void)state;
  for (t = PW_RECV_WEBHOOK; t <= PW_RECV_LOG; t++) {
    const struct pw_notifier *nf = pw_notifier_for(t);
    assert_non_null(nf);
    assert_int_equal(nf->type, t);
    assert_non_null(nf->build);
    assert_non_null(nf->judge);
    assert_non_null(nf->cost);
  }
  assert_null(pw_notifier_for((enum pw_receiver_type)99));
}

static void test_webhook(void **state) {
  const struct pw_notifier *nf = pw_notifier_for(PW_RECV_WEBHOOK);
  struct pw_notify_message m;
  struct pw_notify_input in;
  struct pw_receiver r;
  json_t *p = payload(), *back;
  char err[256];

  (void)state;
  receiver(&r, PW_RECV_WEBHOOK);
  input(&in, &r, p);
  assert_int_equal(nf->build(&in, &m, err, sizeof(err)), 0);
  assert_int_equal(m.n, 1);
  assert_string_equal(m.transfers[0].url, r.url);
  assert_int_equal(m.transfers[0].n_headers, 2);
  assert_string_equal(m.transfers[0].headers[0], "Content-Type: application/json");
  assert_string_equal(m.transfers[0].headers[1], "X-Pacewatch-Delivery: d-9");
  assert_null(m.transfers[0].customize);
  back = json_loadb(m.transfers[0].body, m.transfers[0].body_len, 0, NULL);
  assert_true(json_equal(back, p));
  json_decref(back);
  pw_notify_message_free(&m);
  assert_int_equal(m.n, 0);
  assert_int_equal(nf->cost(p), 1);
  assert_int_equal(nf->judge(&r, 0, 200, "", NULL, err, sizeof(err)), 0);
  assert_int_equal(nf->judge(&r, -EIO, 404, "", "HTTP 404", err, sizeof(err)), -EAGAIN);
  assert_string_equal(err, "HTTP 404");
  json_decref(p);
}

static void test_robots(void **state) {
  static const unsigned char png[] = {0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a, 0, 0};
  const unsigned char *pngs[1] = {png};
  size_t lens[1] = {sizeof(png)};
  struct pw_notify_message m;
  struct pw_notify_input in;
  struct pw_receiver r;
  json_t *p = payload(), *b;
  char err[256];

  (void)state;
  /* DingTalk: signed in the URL, no graph. */
  receiver(&r, PW_RECV_DINGTALK);
  r.secret = "SECtest";
  input(&in, &r, p);
  assert_int_equal(pw_notifier_for(PW_RECV_DINGTALK)->graphs, PW_NOTIFY_NO_GRAPH);
  assert_int_equal(pw_notifier_for(PW_RECV_DINGTALK)->build(&in, &m, err, sizeof(err)), 0);
  assert_int_equal(m.n, 1);
  assert_non_null(strstr(m.transfers[0].url, "&sign="));
  assert_string_equal(m.transfers[0].headers[0], "Content-Type: application/json;charset=utf-8");
  pw_notify_message_free(&m);
  /* A robot's own error code is its verdict, even under HTTP 200; no answer is retried. */
  assert_int_equal(pw_notifier_for(PW_RECV_DINGTALK)
                       ->judge(&r, 0, 200, "{\"errcode\":310000,\"errmsg\":\"sign not match\"}",
                               NULL, err, sizeof(err)),
                   -EPERM);
  assert_int_equal(pw_notifier_for(PW_RECV_DINGTALK)
                       ->judge(&r, -ECONNREFUSED, 0, NULL, "refused", err, sizeof(err)),
                   -EAGAIN);
  /* WeCom: the markdown, then the graph it asked for; two requests of the budget. */
  receiver(&r, PW_RECV_WECOM);
  input(&in, &r, p);
  in.pngs = pngs;
  in.png_lens = lens;
  in.n_pngs = 1;
  assert_int_equal(pw_notifier_for(PW_RECV_WECOM)->graphs, PW_NOTIFY_FIRST_GRAPH);
  assert_int_equal(pw_notifier_for(PW_RECV_WECOM)->cost(p), 2);
  assert_int_equal(pw_notifier_for(PW_RECV_WECOM)->build(&in, &m, err, sizeof(err)), 0);
  assert_int_equal(m.n, 2);
  b = json_loadb(m.transfers[1].body, m.transfers[1].body_len, 0, NULL);
  assert_string_equal(json_string_value(json_object_get(b, "msgtype")), "image");
  json_decref(b);
  pw_notify_message_free(&m);
  /* Feishu: 5 a second. */
  assert_int_equal(pw_notifier_for(PW_RECV_FEISHU)->per_second, 5);
  /* A briefing: its markdown under its title. */
  json_decref(p);
  p = json_pack("{s:i,s:s,s:s,s:s,s:[],s:{s:s,s:s,s:s,s:s}}", "version", 1, "receiver", "r1",
                "delivery", "b-1", "sent_at", "2024-04-29T08:00:00+08:00", "alerts", "briefing",
                "week", "2024-W18", "title", "测试县周报", "html_path", "/nonexistent.html",
                "markdown", "## 总体情况");
  receiver(&r, PW_RECV_DINGTALK);
  input(&in, &r, p);
  assert_int_equal(pw_notifier_for(PW_RECV_DINGTALK)->build(&in, &m, err, sizeof(err)), 0);
  b = json_loadb(m.transfers[0].body, m.transfers[0].body_len, 0, NULL);
  assert_non_null(
      strstr(json_string_value(json_object_get(json_object_get(b, "markdown"), "title")),
             "测试县周报（2024-W18）"));
  json_decref(b);
  pw_notify_message_free(&m);
  json_decref(p);
}

static void test_email(void **state) {
  const struct pw_notifier *nf = pw_notifier_for(PW_RECV_EMAIL);
  struct pw_notify_message m;
  struct pw_notify_input in;
  struct pw_receiver r;
  json_t *p = payload();
  char err[256];

  (void)state;
  receiver(&r, PW_RECV_EMAIL);
  input(&in, &r, p);
  assert_int_equal(nf->graphs, PW_NOTIFY_EACH_GRAPH);
  assert_true(nf->wants_briefing_html);
  assert_int_equal(nf->build(&in, &m, err, sizeof(err)), 0);
  assert_int_equal(m.n, 1);
  assert_string_equal(m.transfers[0].url, r.url);
  assert_null(m.transfers[0].body);
  assert_non_null(m.transfers[0].customize);
  assert_non_null(m.transfers[0].customize_arg);
  assert_ptr_equal(m.state, m.transfers[0].customize_arg);
  pw_notify_message_free(&m);
  /* Without a from, it can never be sent. */
  r.from = NULL;
  assert_int_equal(nf->build(&in, &m, err, sizeof(err)), -EPERM);
  r.from = "pw@example.gov.cn";
  /* An SMTP refusal (5xx) is final; anything else is retried. */
  assert_int_equal(nf->judge(&r, -EPERM, 550, NULL, "550 no such user", err, sizeof(err)), -EPERM);
  assert_int_equal(nf->judge(&r, -ETIMEDOUT, 0, NULL, "timeout", err, sizeof(err)), -EAGAIN);
  assert_int_equal(nf->judge(&r, 0, 250, NULL, NULL, err, sizeof(err)), 0);
  /* A briefing whose HTML could not be read is tried again later. */
  json_decref(p);
  p = json_pack("{s:i,s:s,s:s,s:n,s:[],s:{s:s,s:s,s:s,s:s}}", "version", 1, "receiver", "r1",
                "delivery", "b-1", "sent_at", "alerts", "briefing", "week", "2024-W18", "title",
                "周报", "html_path", "/nonexistent.html", "markdown", "x");
  input(&in, &r, p);
  assert_int_equal(nf->build(&in, &m, err, sizeof(err)), -EAGAIN);
  assert_non_null(strstr(err, "/nonexistent.html"));
  in.briefing_html = "<html><body>周报</body></html>";
  assert_int_equal(nf->build(&in, &m, err, sizeof(err)), 0);
  assert_int_equal(m.n, 1);
  pw_notify_message_free(&m);
  json_decref(p);
}

static void test_log(void **state) {
  const struct pw_notifier *nf = pw_notifier_for(PW_RECV_LOG);
  struct pw_notify_message m;
  struct pw_notify_input in;
  struct pw_receiver r;
  json_t *p = payload();
  char err[256];

  (void)state;
  receiver(&r, PW_RECV_LOG);
  input(&in, &r, p);
  assert_int_equal(nf->build(&in, &m, err, sizeof(err)), 0);
  assert_int_equal(m.n, 0); /* written to the log: nothing to send */
  pw_notify_message_free(&m);
  json_decref(p);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_every_type), cmocka_unit_test(test_webhook),
      cmocka_unit_test(test_robots),     cmocka_unit_test(test_email),
      cmocka_unit_test(test_log),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

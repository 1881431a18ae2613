/*
 * Unit tests of notify_robot: DingTalk and Feishu signatures checked against an independent
 * implementation (Python's hmac, hashlib, base64 and urllib), the three robots' message bodies,
 * splitting of a long notification within the size limits, the keyword at the head, mentions,
 * and the judgement of replies.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "notify_robot.h"

/* What Python computes for the same inputs (the reference algorithms of ROBOTS.md). */
static void python_sign(const char *kind, const char *secret, long long ts, char *out,
                        size_t size) {
  char cmd[1024];
  FILE *p;
  size_t n;

  snprintf(cmd, sizeof(cmd),
           "/usr/bin/python3 -c 'import sys,hmac,hashlib,base64,urllib.parse as u\n"
           "k,s,t=sys.argv[1],sys.argv[2],sys.argv[3]\n"
           "if k==\"ding\":\n"
           " m=hmac.new(s.encode(),(t+\"\\n\"+s).encode(),hashlib.sha256).digest()\n"
           " print(u.quote_plus(base64.b64encode(m)))\n"
           "else:\n"
           " m=hmac.new((t+\"\\n\"+s).encode(),b\"\",hashlib.sha256).digest()\n"
           " print(base64.b64encode(m).decode())' %s '%s' %lld",
           kind, secret, ts);
  p = popen(cmd, "r");
  assert_non_null(p);
  assert_non_null(fgets(out, (int)size, p));
  pclose(p);
  n = strlen(out);
  while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == '\r'))
    out[--n] = '\0';
}

static void test_signatures(void **state) {
  static const char *const secrets[] = {"SEC0123456789abcdef", "SECa/b+c=d==", "SEC中文密钥测试"};
  char mine[128], ref[128];
  size_t i;

  (void)state;
  for (i = 0; i < 3; i++) {
    assert_int_equal(pw_robot_sign_dingtalk(secrets[i], 1714611600123LL, mine, sizeof(mine)), 0);
    python_sign("ding", secrets[i], 1714611600123LL, ref, sizeof(ref));
    assert_string_equal(mine, ref);
    assert_int_equal(pw_robot_sign_feishu(secrets[i], 1714611600LL, mine, sizeof(mine)), 0);
    python_sign("feishu", secrets[i], 1714611600LL, ref, sizeof(ref));
    assert_string_equal(mine, ref);
  }
}

static json_t *payload(int n) {
  json_t *alerts = json_array();
  int i;

  for (i = 0; i < n; i++) {
    char id[64];
    snprintf(id, sizeof(id), "ind%d/lag", i);
    json_array_append_new(
        alerts, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s,s:f,s:f,s:f,s:f,s:s,s:s}", "alert", id,
                          "condition", "lag", "state", "firing", "severity", "lagging", "name",
                          "城乡居民同质同标免费健康体检人数", "department", "health", "value",
                          37774.0, "completion_pct", 19.881, "pace_pct", 26.923, "lag", 7.042,
                          "lag_unit", "pp", "as_of", "2024-05-02T00:00:00+08:00"));
  }
  return json_pack("{s:i,s:s,s:s,s:o}", "version", 1, "receiver", "r", "delivery", "x", "alerts",
                   alerts);
}

static struct pw_receiver robot(enum pw_receiver_type t, const char *url, const char *secret) {
  struct pw_receiver r;

  memset(&r, 0, sizeof(r));
  r.id = "r";
  r.type = t;
  r.url = (char *)url;
  r.secret = (char *)secret;
  return r;
}

static void test_dingtalk_message(void **state) {
  struct pw_receiver r =
      robot(PW_RECV_DINGTALK, "http://127.0.0.1/robot/send?access_token=T", "SECabc");
  static char *mobiles[] = {"13800000000"};
  struct pw_robot_request *reqs;
  json_t *p = payload(1), *body;
  json_error_t jerr;
  size_t n;
  char err[256], sign[128], want[256];
  const char *text;

  (void)state;
  r.keyword = "监测";
  r.at_mobiles.items = mobiles;
  r.at_mobiles.n = 1;
  assert_int_equal(pw_robot_render(&r, p, 1714611600123LL, NULL, &reqs, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 1);
  pw_robot_sign_dingtalk("SECabc", 1714611600123LL, sign, sizeof(sign));
  snprintf(want, sizeof(want),
           "http://127.0.0.1/robot/send?access_token=T&timestamp="
           "1714611600123&sign=%s",
           sign);
  assert_string_equal(reqs[0].url, want);
  body = json_loads(reqs[0].body, 0, &jerr);
  assert_non_null(body);
  assert_string_equal(json_string_value(json_object_get(body, "msgtype")), "markdown");
  text = json_string_value(json_object_get(json_object_get(body, "markdown"), "text"));
  assert_non_null(strstr(text, "监测"));
  assert_true(
      strncmp(json_string_value(json_object_get(json_object_get(body, "markdown"), "title")),
              "监测", strlen("监测")) == 0);
  assert_non_null(strstr(text, "【滞后】城乡居民同质同标免费健康体检人数（health）"));
  assert_non_null(strstr(text, "截至5月1日完成率19.9%，序时进度26.9%，滞后7.0个百分点"));
  assert_non_null(strstr(text, "@13800000000"));
  assert_string_equal(json_string_value(json_array_get(
                          json_object_get(json_object_get(body, "at"), "atMobiles"), 0)),
                      "13800000000");
  json_decref(body);
  pw_robot_requests_free(reqs, n);
  json_decref(p);
}

static void test_feishu_and_wecom(void **state) {
  struct pw_receiver f = robot(PW_RECV_FEISHU, "http://127.0.0.1/open-apis/bot/v2/hook/H", "s");
  struct pw_receiver w = robot(PW_RECV_WECOM, "http://127.0.0.1/webhook/send?key=K", NULL);
  struct pw_robot_request *reqs;
  json_t *p = payload(2), *body;
  json_error_t jerr;
  size_t n;
  char err[256], sign[128];

  (void)state;
  assert_int_equal(pw_robot_render(&f, p, 1714611600999LL, NULL, &reqs, &n, err, sizeof(err)), 0);
  body = json_loads(reqs[0].body, 0, &jerr);
  assert_string_equal(reqs[0].url, "http://127.0.0.1/open-apis/bot/v2/hook/H");
  assert_string_equal(json_string_value(json_object_get(body, "timestamp")), "1714611600");
  pw_robot_sign_feishu("s", 1714611600LL, sign, sizeof(sign));
  assert_string_equal(json_string_value(json_object_get(body, "sign")), sign);
  assert_string_equal(json_string_value(json_object_get(body, "msg_type")), "text");
  json_decref(body);
  pw_robot_requests_free(reqs, n);

  assert_int_equal(pw_robot_render(&w, p, 0, "http://pw.example", &reqs, &n, err, sizeof(err)), 0);
  body = json_loads(reqs[0].body, 0, &jerr);
  assert_string_equal(json_string_value(json_object_get(body, "msgtype")), "markdown");
  assert_non_null(
      strstr(json_string_value(json_object_get(json_object_get(body, "markdown"), "content")),
             "http://pw.example"));
  json_decref(body);
  pw_robot_requests_free(reqs, n);
  json_decref(p);
}

static void test_split_within_limits(void **state) {
  static const enum pw_receiver_type types[] = {PW_RECV_DINGTALK, PW_RECV_WECOM, PW_RECV_FEISHU};
  static const size_t limits[] = {20000, 4096, 20 * 1024};
  json_t *p = payload(300);
  size_t t;

  (void)state;
  for (t = 0; t < 3; t++) {
    struct pw_receiver r = robot(types[t], "http://127.0.0.1/x", NULL);
    struct pw_robot_request *reqs;
    size_t n, i, seen = 0;
    char err[256];
    assert_int_equal(pw_robot_render(&r, p, 0, NULL, &reqs, &n, err, sizeof(err)), 0);
    assert_true(n > 1);
    for (i = 0; i < n; i++) {
      const char *s = reqs[i].body;
      assert_true(reqs[i].body_len <= limits[t]);
      while ((s = strstr(s, "【滞后】")) != NULL) {
        seen++;
        s++;
      }
    }
    assert_int_equal(seen, 300); /* every alert, once */
    pw_robot_requests_free(reqs, n);
  }
  json_decref(p);
}

static void test_replies(void **state) {
  struct pw_receiver d = robot(PW_RECV_DINGTALK, "http://x", NULL);
  struct pw_receiver f = robot(PW_RECV_FEISHU, "http://x", NULL);
  char err[256];

  (void)state;
  assert_int_equal(pw_robot_reply(&d, 200, "{\"errcode\":0,\"errmsg\":\"ok\"}", err, sizeof(err)),
                   0);
  assert_int_equal(pw_robot_reply(&d, 200, "{\"errcode\":130101,\"errmsg\":\"send too fast\"}", err,
                                  sizeof(err)),
                   -EAGAIN);
  assert_int_equal(pw_robot_reply(&d, 200, "{\"errcode\":310000,\"errmsg\":\"sign not match\"}",
                                  err, sizeof(err)),
                   -EPERM);
  assert_non_null(strstr(err, "sign not match"));
  assert_int_equal(
      pw_robot_reply(&f, 200, "{\"code\":19021,\"msg\":\"sign match fail\"}", err, sizeof(err)),
      -EPERM);
  assert_int_equal(
      pw_robot_reply(&f, 200, "{\"code\":11232,\"msg\":\"frequency limited\"}", err, sizeof(err)),
      -EAGAIN);
  assert_int_equal(pw_robot_reply(&f, 200, "{\"StatusCode\":0,\"code\":0}", err, sizeof(err)), 0);
  assert_int_equal(pw_robot_reply(&d, 500, "", err, sizeof(err)), -EAGAIN);
  assert_int_equal(pw_robot_reply(&d, 429, "", err, sizeof(err)), -EAGAIN);
  assert_int_equal(pw_robot_reply(&d, 404, "", err, sizeof(err)), -EPERM);
  assert_int_equal(pw_robot_reply(&d, 200, "<html>", err, sizeof(err)), -EAGAIN);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_signatures),       cmocka_unit_test(test_dingtalk_message),
      cmocka_unit_test(test_feishu_and_wecom), cmocka_unit_test(test_split_within_limits),
      cmocka_unit_test(test_replies),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

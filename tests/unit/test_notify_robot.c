/*
 * Unit tests of notify_robot: DingTalk and Feishu signatures checked against an independent
 * implementation (Python's hmac, hashlib, base64 and urllib), the three robots' message bodies,
 * splitting of a long notification within the size limits, the keyword at the head, mentions,
 * a department's explanation with the 报送/说明 link, and the judgement of replies.
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

#include <openssl/evp.h>

#include "notifier.h"
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

static void test_dingtalk_url_without_query(void **state) {
  struct pw_receiver r = robot(PW_RECV_DINGTALK, "http://127.0.0.1/robot/send", "SECa/b+c=d==");
  struct pw_robot_request *reqs;
  json_t *p = payload(1);
  size_t n;
  char err[256], sign[128], want[256];

  (void)state;
  assert_int_equal(pw_robot_render(&r, p, 1714611600123LL, NULL, &reqs, &n, err, sizeof(err)), 0);
  assert_int_equal(pw_robot_sign_dingtalk("SECa/b+c=d==", 1714611600123LL, sign, sizeof(sign)), 0);
  snprintf(want, sizeof(want), "http://127.0.0.1/robot/send?timestamp=1714611600123&sign=%s", sign);
  assert_string_equal(reqs[0].url, want);
  assert_null(strpbrk(sign, "+/=")); /* escaped */
  pw_robot_requests_free(reqs, n);

  /* Without a secret the URL is left alone. */
  r.secret = NULL;
  assert_int_equal(pw_robot_render(&r, p, 1714611600123LL, NULL, &reqs, &n, err, sizeof(err)), 0);
  assert_string_equal(reqs[0].url, "http://127.0.0.1/robot/send");
  pw_robot_requests_free(reqs, n);
  json_decref(p);
}

/* The PNG of the first alert goes to WeCom as an image message: base64 plus the md5 of the raw
 * bytes (the md5 below is what Python's hashlib gives for these bytes). */
static void test_wecom_image_and_mentions(void **state) {
  struct pw_receiver w = robot(PW_RECV_WECOM, "http://127.0.0.1/webhook/send?key=K", NULL);
  static char *mobiles[] = {"13900000000", "@all"};
  unsigned char png[3001], *decoded;
  struct pw_robot_request *reqs;
  json_t *p = payload(1), *body;
  json_error_t jerr;
  size_t n, i;
  char err[256];
  const char *b64;
  int len;

  (void)state;
  for (i = 0; i < sizeof(png); i++)
    png[i] = (unsigned char)((i * 7 + 3) & 0xff);
  w.mentioned_mobiles.items = mobiles;
  w.mentioned_mobiles.n = 2;
  assert_int_equal(
      pw_robot_render_graph(&w, p, 0, png, sizeof(png), NULL, &reqs, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 3); /* markdown, mentions, image */
  body = json_loads(reqs[1].body, 0, &jerr);
  assert_string_equal(json_string_value(json_object_get(body, "msgtype")), "text");
  assert_string_equal(
      json_string_value(json_array_get(
          json_object_get(json_object_get(body, "text"), "mentioned_mobile_list"), 1)),
      "@all");
  json_decref(body);
  body = json_loads(reqs[2].body, 0, &jerr);
  assert_non_null(body);
  assert_string_equal(reqs[2].url, "http://127.0.0.1/webhook/send?key=K");
  assert_string_equal(json_string_value(json_object_get(body, "msgtype")), "image");
  assert_string_equal(json_string_value(json_object_get(json_object_get(body, "image"), "md5")),
                      "e4fc9e1bdd572f71e2e808391441751d");
  b64 = json_string_value(json_object_get(json_object_get(body, "image"), "base64"));
  assert_int_equal(strncmp(b64, "AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO", 40), 0);
  decoded = malloc(strlen(b64));
  len = EVP_DecodeBlock(decoded, (const unsigned char *)b64, (int)strlen(b64));
  assert_true(len >= (int)sizeof(png)); /* DecodeBlock counts padding bytes too */
  assert_memory_equal(decoded, png, sizeof(png));
  free(decoded);
  json_decref(body);
  pw_robot_requests_free(reqs, n);

  /* Over 2 MB: no image; DingTalk and Feishu never carry one. */
  w.mentioned_mobiles.n = 0;
  decoded = calloc(1, 2 * 1024 * 1024 + 1);
  assert_int_equal(pw_robot_render_graph(&w, p, 0, decoded, 2 * 1024 * 1024 + 1, NULL, &reqs, &n,
                                         err, sizeof(err)),
                   0);
  assert_int_equal(n, 1);
  pw_robot_requests_free(reqs, n);
  w.type = PW_RECV_DINGTALK;
  assert_int_equal(
      pw_robot_render_graph(&w, p, 0, png, sizeof(png), NULL, &reqs, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 1);
  pw_robot_requests_free(reqs, n);
  free(decoded);
  json_decref(p);
}

/* The keyword opens the title and the text of every robot, in every part of a split message. */
static void test_keyword_at_head(void **state) {
  static const enum pw_receiver_type types[] = {PW_RECV_DINGTALK, PW_RECV_WECOM, PW_RECV_FEISHU};
  json_t *p = payload(120);
  size_t t;

  (void)state;
  for (t = 0; t < 3; t++) {
    struct pw_receiver r = robot(types[t], "http://127.0.0.1/x", NULL);
    struct pw_robot_request *reqs;
    json_error_t jerr;
    size_t n, i;
    char err[256];
    r.keyword = "指标监测";
    assert_int_equal(pw_robot_render(&r, p, 0, NULL, &reqs, &n, err, sizeof(err)), 0);
    assert_true(n > 1);
    for (i = 0; i < n; i++) {
      json_t *b = json_loads(reqs[i].body, 0, &jerr);
      const char *text =
          types[t] == PW_RECV_DINGTALK
              ? json_string_value(json_object_get(json_object_get(b, "markdown"), "text"))
          : types[t] == PW_RECV_WECOM
              ? json_string_value(json_object_get(json_object_get(b, "markdown"), "content"))
              : json_string_value(json_object_get(json_object_get(b, "content"), "text"));
      assert_non_null(text);
      if (types[t] != PW_RECV_FEISHU) {
        assert_int_equal(strncmp(text, "### 指标监测 ", strlen("### 指标监测 ")), 0);
      } else {
        assert_int_equal(strncmp(text, "指标监测 ", strlen("指标监测 ")), 0);
      }
      if (types[t] == PW_RECV_DINGTALK)
        assert_int_equal(
            strncmp(json_string_value(json_object_get(json_object_get(b, "markdown"), "title")),
                    "指标监测 ", strlen("指标监测 ")),
            0);
      json_decref(b);
    }
    pw_robot_requests_free(reqs, n);
  }
  json_decref(p);
}

static json_t *alert_of(const char *json) {
  json_error_t jerr;
  json_t *a = json_loads(json, 0, &jerr);

  assert_non_null(a);
  return a;
}

static void check_line(const char *json, const char *want) {
  json_t *a = alert_of(json);
  char line[1024];

  pw_robot_alert_line(a, line, sizeof(line));
  if (strstr(line, want) == NULL)
    fail_msg("line '%s' lacks '%s'", line, want);
  json_decref(a);
}

static void test_alert_lines(void **state) {
  (void)state;
  check_line(
      "{\"condition\":\"lag\",\"state\":\"firing\",\"severity\":\"severe\",\"name\":\"家庭医生"
      "签约人数\",\"department\":\"县卫健局\",\"value\":37774,\"completion_pct\":19.881,"
      "\"pace_pct\":36.923,\"lag\":17.042,\"lag_unit\":\"pp\",\"as_of\":\"2024-05-02T00:00:"
      "00+08:00\"}",
      "【严重滞后】家庭医生签约人数（县卫健局）：截至5月1日完成率19.9%，序时进度36.9%，"
      "滞后17.0个百分点");
  /* An as_of that is not midnight still belongs to its own day; the offset gives local time. */
  check_line("{\"condition\":\"lag\",\"state\":\"firing\",\"severity\":\"lagging\",\"name\":\"x\","
             "\"completion_pct\":1,\"pace_pct\":9,\"lag\":8,\"lag_unit\":\"pp\",\"as_of\":\"2024-"
             "03-01T15:30:00+08:00\"}",
             "【滞后】x：截至3月1日完成率1.0%");
  check_line("{\"condition\":\"lag\",\"state\":\"firing\",\"severity\":\"lagging\",\"name\":\"儿童"
             "健康管理率\",\"value\":82.5,\"expected\":85,\"target\":85,\"lag\":2.5,\"lag_unit\":"
             "\"%\",\"as_of\":\"2024-04-01T00:00:00+08:00\"}",
             "截至3月31日为82.5%，标准85%，低于标准2.5个百分点");
  check_line("{\"condition\":\"lag\",\"state\":\"firing\",\"severity\":\"lagging\",\"name\":\"床位"
             "\",\"value\":1234567,\"expected\":1300000,\"lag\":65433,\"lag_unit\":\"张\","
             "\"as_of\":\"2024-04-01T00:00:00+08:00\"}",
             "为123.46万张，标准130万张，低于标准65433张");
  check_line("{\"condition\":\"lag\",\"state\":\"firing\",\"severity\":\"lagging\",\"name\":\"改造"
             "工程\",\"value\":1,\"expected\":2,\"lag\":12.3,\"lag_unit\":\"days\",\"as_of\":"
             "\"2024-04-01T00:00:00+08:00\"}",
             "【滞后】改造工程：逾期13天");
  check_line("{\"condition\":\"stale\",\"state\":\"firing\",\"severity\":\"stale\",\"name\":\"体检"
             "\",\"as_of\":\"2024-04-01T00:00:00+08:00\",\"since\":\"2024-05-01T10:00:00+08:00\"}",
             "【数据陈旧】体检：数据超过30天未更新（最新数据截至3月31日）");
  check_line("{\"condition\":\"source_down\",\"state\":\"firing\",\"severity\":\"source\",\"source"
             "\":\"wjw_api\",\"name\":null,\"since\":\"2024-05-01T08:05:00+08:00\"}",
             "【数据源故障】数据源 wjw_api 连续失败（自5月1日08:05起）");
  /* Reporting deadlines (docs/alerts.md): their labels, with the engine's words. */
  check_line(
      "{\"condition\":\"overdue\",\"state\":\"firing\",\"severity\":\"overdue\",\"name\":"
      "\"体检人数\",\"department_name\":\"县卫健局\",\"summary\":\"2024年3月数据逾期未报，应于"
      "4月5日前报送\"}",
      "【逾期未报】体检人数（县卫健局）：2024年3月数据逾期未报，应于4月5日前报送");
  check_line(
      "{\"condition\":\"remind\",\"state\":\"firing\",\"severity\":\"remind\",\"name\":"
      "\"体检人数\",\"department_name\":\"县卫健局\",\"summary\":\"县卫健局：请于4月5日前报送"
      "2024年3月的「体检人数」数据\"}",
      "【报送提醒】体检人数（县卫健局）：县卫健局：请于4月5日前报送");
  check_line(
      "{\"condition\":\"lag\",\"state\":\"resolved\",\"severity\":\"lagging\",\"name\":\"体检"
      "\",\"completion_pct\":27,\"pace_pct\":26.9,\"lag\":-0.1,\"lag_unit\":\"pp\",\"as_of"
      "\":\"2024-05-02T00:00:00+08:00\"}",
      "【已恢复】体检：截至5月1日完成率27.0%，序时进度26.9%");
}

/* The heading counts firing and resolved alerts and names the departments; the stale age is
 * counted to the payload's sent_at. */
static void test_heading_and_link(void **state) {
  struct pw_receiver r = robot(PW_RECV_FEISHU, "http://127.0.0.1/hook", NULL);
  json_t *p = payload(2), *body;
  struct pw_robot_request *reqs;
  json_error_t jerr;
  size_t n;
  char err[256];
  const char *text;

  (void)state;
  r.at_all = 1;
  json_object_set_new(json_array_get(json_object_get(p, "alerts"), 1), "department",
                      json_string("edu"));
  json_object_set_new(json_array_get(json_object_get(p, "alerts"), 1), "state",
                      json_string("resolved"));
  json_array_append_new(json_object_get(p, "alerts"),
                        alert_of("{\"condition\":\"stale\",\"state\":\"firing\",\"severity\":"
                                 "\"stale\",\"name\":\"s\",\"department\":\"health\",\"as_of\":"
                                 "\"2024-04-01T00:00:00+08:00\"}"));
  json_object_set_new(p, "sent_at", json_string("2024-04-11T00:00:01+08:00"));
  assert_int_equal(pw_robot_render(&r, p, 0, "https://pw.example/", &reqs, &n, err, sizeof(err)),
                   0);
  assert_int_equal(n, 1);
  body = json_loads(reqs[0].body, 0, &jerr);
  assert_null(json_object_get(body, "sign")); /* no secret, no signature */
  text = json_string_value(json_object_get(json_object_get(body, "content"), "text"));
  assert_non_null(strstr(text, "2项告警，1项已恢复（health、edu）"));
  assert_non_null(strstr(text, "数据超过10天未更新"));
  assert_non_null(strstr(text, "https://pw.example/"));
  assert_null(strstr(text, "https://pw.example//"));
  assert_non_null(strstr(text, "<at user_id=\"all\">"));
  json_decref(body);
  pw_robot_requests_free(reqs, n);
  json_decref(p);
}

/* An alert with the engine's words: names, the words, contacts @-mentioned (DingTalk atMobiles
 * and the text, WeCom's text message), one link per indicator, severe before stale. */
static void test_words_contacts_order(void **state) {
  struct pw_receiver d = robot(PW_RECV_DINGTALK, "http://127.0.0.1/ding?access_token=T", NULL);
  struct pw_receiver w = robot(PW_RECV_WECOM, "http://127.0.0.1/wecom?key=K", NULL);
  static char *own[] = {"13700000000"};
  json_t *p = alert_of(
      "{\"title\":\"某县民生实事\",\"alerts\":["
      "{\"condition\":\"stale\",\"state\":\"firing\",\"severity\":\"stale\",\"name\":"
      "\"签约率\",\"department\":\"wj\",\"department_name\":\"县卫健局\",\"contacts\":[],"
      "\"summary\":\"最新数据截至2023年底（72.5%），已超过172天未更新\",\"trend\":null,"
      "\"need\":null,\"url\":\"https://pw/#ind-rate\"},"
      "{\"condition\":\"lag\",\"state\":\"firing\",\"severity\":\"severe\",\"name\":"
      "\"体检人数\",\"department\":\"wj\",\"department_name\":\"县卫健局\",\"contacts\":["
      "{\"name\":\"王敏\",\"mobile\":\"13800000001\"}],\"summary\":\"截至6月20日累计2万人\","
      "\"trend\":\"自6月21日起滞后\",\"need\":\"需在6月底前再完成约75000人方可达到二季度目标\","
      "\"url\":\"https://pw/#ind-checkups\"}]}");
  struct pw_robot_request *reqs;
  json_error_t jerr;
  json_t *body, *msg;
  size_t n;
  char err[256];
  const char *text;

  (void)state;
  d.at_mobiles.items = own;
  d.at_mobiles.n = 1;
  assert_int_equal(pw_robot_render(&d, p, 0, NULL, &reqs, &n, err, sizeof(err)), 0);
  body = msg = json_loads(reqs[0].body, 0, &jerr);
  text = json_string_value(json_object_get(json_object_get(body, "markdown"), "text"));
  assert_string_equal(
      json_string_value(json_object_get(json_object_get(body, "markdown"), "title")),
      "某县民生实事提醒：2项告警（县卫健局）");
  assert_non_null(strstr(text,
                         "- 【严重滞后】体检人数（县卫健局）：截至6月20日累计2万人；"
                         "自6月21日起滞后；需在6月底前再完成约75000人方可达到二季度目标\n"
                         "  联系人：王敏 @13800000001；[查看该指标](https://pw/#ind-checkups)"));
  assert_true(strstr(text, "【严重滞后】") < strstr(text, "【数据陈旧】"));
  assert_non_null(strstr(text, "[查看该指标](https://pw/#ind-rate)"));
  assert_null(strstr(text, "（wj）"));
  body = json_object_get(json_object_get(body, "at"), "atMobiles");
  assert_int_equal(json_array_size(body), 2);
  assert_string_equal(json_string_value(json_array_get(body, 0)), "13700000000");
  assert_string_equal(json_string_value(json_array_get(body, 1)), "13800000001");
  json_decref(msg);
  pw_robot_requests_free(reqs, n);
  /* WeCom: markdown, then the text message that mentions the contact; it costs three. */
  assert_int_equal(pw_robot_render(&w, p, 0, NULL, &reqs, &n, err, sizeof(err)), 0);
  assert_int_equal(n, 2);
  body = json_loads(reqs[1].body, 0, &jerr);
  assert_string_equal(
      json_string_value(json_array_get(
          json_object_get(json_object_get(body, "text"), "mentioned_mobile_list"), 0)),
      "13800000001");
  json_decref(body);
  pw_robot_requests_free(reqs, n);
  assert_int_equal(pw_notifier_for(PW_RECV_WECOM)->cost(p), 3);
  json_decref(p);
}

/* An alert carrying the department's explanation (its words, explanation.text) and the
 * department's reporting page (report_url): said on the second line before the contacts, and
 * linked as 报送/说明 after the indicator's link; Feishu writes the links out. */
static void test_explanation_and_report_link(void **state) {
  struct pw_receiver d = robot(PW_RECV_DINGTALK, "http://127.0.0.1/ding?access_token=T", NULL);
  struct pw_receiver f = robot(PW_RECV_FEISHU, "http://127.0.0.1/feishu", NULL);
  json_t *p = alert_of(
      "{\"alerts\":[{\"condition\":\"lag\",\"state\":\"firing\",\"severity\":\"lagging\","
      "\"name\":\"城镇新增就业\",\"department\":\"hrss\",\"department_name\":\"县人力社保局\","
      "\"contacts\":[{\"name\":\"李强\",\"mobile\":\"13800000003\"}],"
      "\"summary\":\"截至3月底累计1000人\",\"trend\":null,\"need\":null,"
      "\"url\":\"https://pw/#ind-emp\",\"explanation\":{\"reason\":\"招工延后\","
      "\"overdue\":true,\"text\":\"县人力社保局说明：招工延后；原定5月31日前追平，目前仍滞后\"},"
      "\"catch_up_passed\":true,\"report_url\":\"https://pw/report/hrss\"}]}");
  struct pw_robot_request *reqs;
  json_error_t jerr;
  json_t *body;
  size_t n;
  char err[256];
  const char *text;

  (void)state;
  assert_int_equal(pw_robot_render(&d, p, 0, NULL, &reqs, &n, err, sizeof(err)), 0);
  body = json_loads(reqs[0].body, 0, &jerr);
  text = json_string_value(json_object_get(json_object_get(body, "markdown"), "text"));
  assert_non_null(strstr(text, "：截至3月底累计1000人\n"
                               "  县人力社保局说明：招工延后；原定5月31日前追平，目前仍滞后；"
                               "联系人：李强 @13800000003；[查看该指标](https://pw/#ind-emp)；"
                               "[报送/说明](https://pw/report/hrss)"));
  json_decref(body);
  pw_robot_requests_free(reqs, n);
  assert_int_equal(pw_robot_render(&f, p, 0, NULL, &reqs, &n, err, sizeof(err)), 0);
  body = json_loads(reqs[0].body, 0, &jerr);
  text = json_string_value(json_object_get(json_object_get(body, "content"), "text"));
  assert_non_null(strstr(text, "县人力社保局说明：招工延后；原定5月31日前追平，目前仍滞后；"
                               "联系人：李强（13800000003）；查看该指标：https://pw/#ind-emp；"
                               "报送/说明：https://pw/report/hrss"));
  json_decref(body);
  pw_robot_requests_free(reqs, n);
  json_decref(p);
}

static void test_render_errors(void **state) {
  struct pw_receiver r = robot(PW_RECV_DINGTALK, "http://x", NULL);
  struct pw_robot_request *reqs = (void *)1;
  json_t *p = json_pack("{s:[]}", "alerts");
  size_t n = 7;
  char err[256];

  (void)state;
  assert_int_equal(pw_robot_render(&r, p, 0, NULL, &reqs, &n, err, sizeof(err)), -EINVAL);
  assert_null(reqs);
  assert_int_equal(n, 0);
  json_decref(p);
  p = payload(1);
  r.type = PW_RECV_EMAIL;
  assert_int_equal(pw_robot_render(&r, p, 0, NULL, &reqs, &n, err, sizeof(err)), -EINVAL);
  json_decref(p);
  pw_robot_requests_free(NULL, 0);
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

/* Every refusal ROBOTS.md lists, by robot. */
static void test_reply_codes(void **state) {
  struct pw_receiver d = robot(PW_RECV_DINGTALK, "http://x", NULL);
  struct pw_receiver f = robot(PW_RECV_FEISHU, "http://x", NULL);
  struct pw_receiver w = robot(PW_RECV_WECOM, "http://x", NULL);
  const struct {
    struct pw_receiver *r;
    long status;
    const char *body;
    int want;
    const char *said;
  } cases[] = {
      {&d, 200, "{\"errcode\":310000,\"errmsg\":\"keywords not in content\"}", -EPERM,
       "keywords not in content"},
      {&d, 200, "{\"errcode\":310000,\"errmsg\":\"ip 1.2.3.4 not in whitelist\"}", -EPERM,
       "not in whitelist"},
      {&d, 200, "{\"errcode\":130101,\"errmsg\":\"send too fast, exceed 20 times per minute\"}",
       -EAGAIN, "send too fast"},
      {&d, 200, "{\"errcode\":0,\"errmsg\":\"ok\"}", 0, "ok"},
      {&f, 200, "{\"code\":19021,\"msg\":\"sign match fail or timestamp is not within one hour\"}",
       -EPERM, "sign match fail"},
      {&f, 200, "{\"code\":19022,\"msg\":\"Ip Not Allowed\"}", -EPERM, "Ip Not Allowed"},
      {&f, 200, "{\"code\":19024,\"msg\":\"Key Words Not Found\"}", -EPERM, "Key Words"},
      {&f, 200, "{\"code\":11232,\"msg\":\"frequency limited\"}", -EAGAIN, "11232"},
      {&f, 200, "{\"code\":0,\"msg\":\"success\",\"data\":{}}", 0, "success"},
      {&w, 200, "{\"errcode\":93000,\"errmsg\":\"invalid webhook url\"}", -EPERM,
       "invalid webhook url"},
      {&w, 200, "{\"errcode\":45009,\"errmsg\":\"api freq out of limit\"}", -EAGAIN, "45009"},
      {&w, 200, "{\"errcode\":0,\"errmsg\":\"ok\"}", 0, "errcode 0"},
      {&w, 500, "oops", -EAGAIN, "HTTP 500"},
      {&w, 502, NULL, -EAGAIN, "HTTP 502"},
      {&f, 429, "", -EAGAIN, "HTTP 429"},
      {&f, 403, "forbidden", -EPERM, "forbidden"},
      {&d, 0, NULL, -EAGAIN, "HTTP 0"},
      {&d, 200, "", -EAGAIN, "not a JSON"},
      {&d, 200, "[1]", -EAGAIN, "not a JSON"},
  };
  char err[256];
  size_t i;

  (void)state;
  for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int rc = pw_robot_reply(cases[i].r, cases[i].status, cases[i].body, err, sizeof(err));
    if (rc != cases[i].want || strstr(err, cases[i].said) == NULL)
      fail_msg("case %zu: rc %d (want %d), err '%s'", i, rc, cases[i].want, err);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_signatures),
      cmocka_unit_test(test_dingtalk_message),
      cmocka_unit_test(test_feishu_and_wecom),
      cmocka_unit_test(test_split_within_limits),
      cmocka_unit_test(test_replies),
      cmocka_unit_test(test_dingtalk_url_without_query),
      cmocka_unit_test(test_wecom_image_and_mentions),
      cmocka_unit_test(test_keyword_at_head),
      cmocka_unit_test(test_words_contacts_order),
      cmocka_unit_test(test_explanation_and_report_link),
      cmocka_unit_test(test_alert_lines),
      cmocka_unit_test(test_heading_and_link),
      cmocka_unit_test(test_render_errors),
      cmocka_unit_test(test_reply_codes),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

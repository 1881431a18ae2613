/*
 * Unit tests of the briefing's Word document helpers and its channels (docs/briefing.md "Files"
 * and "Delivery"): XML escaping (the five characters, characters XML forbids, malformed UTF-8),
 * a PNG's size from its header, the picture extent in EMU (96 dpi, scaled to the text width,
 * rounding, no overflow), a minimal model written as a .docx whose parts are there and escaped,
 * the robots' summary within its limit with the link, and the names /briefings/ serves.
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
#include <unistd.h>
#include <zip.h>

#include "briefings.h"
#include "channels.h"
#include "docx.h"
#include "util.h"

static char *esc(const char *s) {
  struct pw_buf b = {NULL, 0, 0, 0};

  assert_int_equal(pw_xml_escape(&b, s), 0);
  if (b.data == NULL)
    assert_int_equal(pw_buf_append(&b, "", 0), 0);
  return b.data;
}

static void test_xml_escape(void **state) {
  char *s;

  (void)state;
  s = esc("a<b>&\"c\"'d'");
  assert_string_equal(s, "a&lt;b&gt;&amp;&quot;c&quot;&apos;d&apos;");
  free(s);
  s = esc("");
  assert_string_equal(s, "");
  free(s);
  /* Chinese passes through; tab, LF and CR are characters of XML, other controls are not. */
  s = esc("完成率\t39.3%\n\x01\x1f\x7f");
  assert_string_equal(s, "完成率\t39.3%\n\x7f");
  free(s);
  /* Malformed UTF-8: a stray continuation byte, a truncated sequence, an overlong '<' (which
   * must never come out as '<'), a surrogate, past U+10FFFF: each becomes U+FFFD. */
  s = esc("x\x80y");
  assert_string_equal(s, "x\xEF\xBF\xBDy");
  free(s);
  s = esc("\xE5\xAE");
  assert_string_equal(s, "\xEF\xBF\xBD\xEF\xBF\xBD");
  free(s);
  s = esc("\xC0\xBC");
  assert_null(strchr(s, '<'));
  free(s);
  s = esc("\xED\xA0\x80");
  assert_null(strstr(s, "\xED\xA0\x80"));
  free(s);
  s = esc("\xF4\x90\x80\x80");
  assert_string_equal(s, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  free(s);
  /* U+FFFE and U+FFFF are not XML characters; U+10FFFF and emoji are. */
  s = esc("a\xEF\xBF\xBE\xEF\xBF\xBF"
          "b\xF4\x8F\xBF\xBF\xF0\x9F\x93\x88");
  assert_string_equal(s, "ab\xF4\x8F\xBF\xBF\xF0\x9F\x93\x88");
  free(s);
}

static void test_png_size(void **state) {
  unsigned char png[24] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13,
                           'I',  'H', 'D', 'R', 0,    0,    3,    0x20, 0, 0, 1, 0x2C};
  uint32_t w, h;

  (void)state;
  assert_int_equal(pw_png_size(png, sizeof(png), &w, &h), 0);
  assert_int_equal(w, 800);
  assert_int_equal(h, 300);
  assert_int_equal(pw_png_size(png, 23, &w, &h), -EINVAL);
  png[1] = 'X';
  assert_int_equal(pw_png_size(png, sizeof(png), &w, &h), -EINVAL);
  png[1] = 'P';
  png[19] = 0; /* width 0x300 = 768: still fine */
  assert_int_equal(pw_png_size(png, sizeof(png), &w, &h), 0);
  png[18] = 0; /* width 0 */
  assert_int_equal(pw_png_size(png, sizeof(png), &w, &h), -EINVAL);
  png[16] = 0x80; /* width 2^31 */
  assert_int_equal(pw_png_size(png, sizeof(png), &w, &h), -EINVAL);
}

static void test_extent(void **state) {
  int64_t cx, cy;

  (void)state;
  /* 96 dpi: 9525 EMU a pixel. */
  assert_int_equal(pw_docx_extent(800, 300, 96, 0, &cx, &cy), 0);
  assert_true(cx == 7620000 && cy == 2857500);
  /* Never scaled up. */
  assert_int_equal(pw_docx_extent(100, 50, 96, 5615940, &cx, &cy), 0);
  assert_true(cx == 952500 && cy == 476250);
  /* Scaled down to the text width (8844 twips = 5615940 EMU), the aspect kept, rounded. */
  assert_int_equal(pw_docx_extent(800, 300, 96, 5615940, &cx, &cy), 0);
  assert_true(cx == 5615940);
  assert_true(cy == 2105978); /* 2857500 * 5615940 / 7620000 = 2105977.5 */
  /* Other resolutions: 72 dpi is 12700 EMU a pixel; 1 px at 1200 dpi is 762 EMU. */
  assert_int_equal(pw_docx_extent(3, 1, 72, 0, &cx, &cy), 0);
  assert_true(cx == 38100 && cy == 12700);
  assert_int_equal(pw_docx_extent(1, 1, 1200, 0, &cx, &cy), 0);
  assert_true(cx == 762 && cy == 762);
  /* A very thin picture scaled down keeps a height of at least one EMU. */
  assert_int_equal(pw_docx_extent(2000000, 1, 96, 100, &cx, &cy), 0);
  assert_true(cx == 100 && cy == 1);
  /* The largest sides a PNG may have do not overflow. */
  assert_int_equal(pw_docx_extent(0x7FFFFFFF, 0x7FFFFFFF, 1, 5615940, &cx, &cy), 0);
  assert_true(cx == 5615940 && cy > 0 && cy <= 5615940);
  assert_int_equal(pw_docx_extent(0, 1, 96, 0, &cx, &cy), -EINVAL);
  assert_int_equal(pw_docx_extent(1, 1, 0, 0, &cx, &cy), -EINVAL);
}

/* A model of a few blocks, made by hand: what the renderers see. */
static struct pw_report_run runs[] = {{PW_RUN_BOLD, "1.<名称>&。"},
                                      {PW_RUN_TEXT, "截至3月底，达\"4.35\"个。"}};
static struct pw_report_run slot_run[] = {{PW_RUN_TEXT, "（由专班办公室补充）"}};
static const char *header[] = {"序号", "指标"};
static const char *cells[] = {"1", "托位数", "2", "执业医师数"};
static int row_ind[] = {0, 1};
static struct pw_report_item items[2];

static void model(struct pw_report *r, struct pw_report_section *secs, struct pw_report_block *b,
                  const char *png) {
  memset(r, 0, sizeof(*r));
  memset(b, 0, 4 * sizeof(*b));
  b[0].kind = PW_BLOCK_PARAGRAPH;
  b[0].indicator = 0;
  b[0].runs = runs;
  b[0].n_runs = 2;
  b[1].kind = PW_BLOCK_SLOT;
  b[1].indicator = -1;
  b[1].runs = slot_run;
  b[1].n_runs = 1;
  b[2].kind = PW_BLOCK_TABLE;
  b[2].indicator = -1;
  b[2].table.n_cols = 2;
  b[2].table.n_rows = 2;
  b[2].table.header = header;
  b[2].table.cells = cells;
  b[2].table.row_indicator = row_ind;
  b[3].kind = PW_BLOCK_IMAGE;
  b[3].indicator = 0;
  b[3].image.indicator = 0;
  b[3].image.id = "places";
  b[3].image.path = png;
  b[3].image.caption = "图1 托位数";
  memset(secs, 0, 2 * sizeof(*secs));
  secs[0] = (struct pw_report_section){1, "一、", "总体情况", "summary", 0, b, 2};
  secs[1] = (struct pw_report_section){1, "附件1", "一览表", "table", 1, b + 2, 2};
  memset(items, 0, sizeof(items));
  items[0].indicator = 0;
  items[0].id = "places";
  items[0].name = "托位数";
  items[0].department = "县卫健局";
  items[0].status = PW_STATUS_LAGGING;
  items[0].attention = 1;
  items[0].figure = "4.35个";
  items[0].sentence = "截至3月底，达4.35个。";
  items[1].indicator = 1;
  items[1].id = "doctors";
  items[1].name = "执业医师数";
  items[1].status = PW_STATUS_NO_DATA;
  items[1].figure = "—";
  items[1].sentence = "一季度省人社厅尚未对外公布。";
  r->title = "平阳县<测试>周报";
  r->issuer = "县府办";
  r->date = "2024年4月30日";
  r->period = "2024年4月22日—28日";
  r->week = "2024-W18";
  r->items = items;
  r->n_items = 2;
  r->sections = secs;
  r->n_sections = 2;
}

static char *zip_text(zip_t *z, const char *name) {
  zip_stat_t st;
  zip_file_t *f;
  char *buf;

  if (zip_stat(z, name, 0, &st) < 0)
    return NULL;
  buf = calloc(1, (size_t)st.size + 1);
  f = zip_fopen(z, name, 0);
  assert_non_null(f);
  assert_int_equal(zip_fread(f, buf, st.size), (zip_int64_t)st.size);
  zip_fclose(f);
  return buf;
}

static void test_report_docx(void **state) {
  char dir[] = "/tmp/pw-test-docx-XXXXXX", path[256], png[256], err[256], *doc, *rels, *ct;
  static const unsigned char img[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n', 0, 0, 0, 13,
                                      'I',  'H', 'D', 'R', 0,    0,    3,    0x20, 0, 0, 1, 0x2C};
  struct pw_report r;
  struct pw_report_section secs[2];
  struct pw_report_block b[4];
  zip_t *z;
  int zerr;

  (void)state;
  assert_non_null(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/2024-W18.docx", dir);
  snprintf(png, sizeof(png), "%s/2024-W18-places.png", dir);
  assert_int_equal(pw_write_file_atomic(png, img, sizeof(img)), 0);
  model(&r, secs, b, png);
  assert_int_equal(pw_report_docx(&r, path, err, sizeof(err)), 0);
  z = zip_open(path, ZIP_RDONLY, &zerr);
  assert_non_null(z);
  ct = zip_text(z, "[Content_Types].xml");
  assert_non_null(ct);
  assert_non_null(strstr(ct, "wordprocessingml.document.main+xml"));
  doc = zip_text(z, "word/document.xml");
  assert_non_null(doc);
  /* Every text escaped; the table, the picture (800 x 300 px scaled to the text width), the
   * slot, the page break before the appendix, A4. */
  assert_non_null(strstr(doc, "平阳县&lt;测试&gt;周报"));
  assert_non_null(strstr(doc, "1.&lt;名称&gt;&amp;。"));
  assert_non_null(strstr(doc, "达&quot;4.35&quot;个"));
  assert_null(strstr(doc, "<名称>"));
  assert_non_null(strstr(doc, "<w:tbl>"));
  assert_non_null(strstr(doc, "<w:tblHeader/>"));
  assert_non_null(strstr(doc, "执业医师数"));
  assert_non_null(strstr(doc, "<wp:extent cx=\"5615940\" cy=\"2105978\"/>"));
  assert_non_null(strstr(doc, "r:embed=\"rIdImg1\""));
  assert_non_null(strstr(doc, "w:val=\"Slot\""));
  assert_non_null(strstr(doc, "<w:pageBreakBefore/>"));
  assert_non_null(strstr(doc, "<w:pgSz w:w=\"11906\" w:h=\"16838\"/>"));
  rels = zip_text(z, "word/_rels/document.xml.rels");
  assert_non_null(strstr(rels, "Target=\"media/image1.png\""));
  assert_true(zip_name_locate(z, "word/media/image1.png", 0) >= 0);
  assert_true(zip_name_locate(z, "word/footer1.xml", 0) >= 0);
  assert_true(zip_name_locate(z, "word/styles.xml", 0) >= 0);
  zip_close(z);
  free(ct);
  free(doc);
  free(rels);
  /* A graph that cannot be read: the document still comes, with the words instead. */
  b[3].image.path = "/nonexistent/x.png";
  assert_int_equal(pw_report_docx(&r, path, err, sizeof(err)), 0);
  z = zip_open(path, ZIP_RDONLY, &zerr);
  doc = zip_text(z, "word/document.xml");
  assert_non_null(strstr(doc, "图表生成失败"));
  assert_null(strstr(doc, "<w:drawing>"));
  zip_close(z);
  free(doc);
  /* A directory that does not exist: an error with the path, no callback, nothing else. */
  assert_true(pw_report_docx(&r, "/nonexistent/dir/x.docx", err, sizeof(err)) < 0);
  assert_non_null(strstr(err, "/nonexistent/dir/x.docx"));
  unlink(path);
  unlink(png);
  rmdir(dir);
}

static void test_summary(void **state) {
  struct pw_report r;
  struct pw_report_section secs[2];
  struct pw_report_block b[4];
  struct pw_buf md = {NULL, 0, 0, 0}, tx = {NULL, 0, 0, 0};
  json_t *doc;
  static char names[400][64];
  static struct pw_report_item many[400];
  int i;

  (void)state;
  model(&r, secs, b, NULL);
  assert_int_equal(pw_report_summary(&r, 1, "http://x.gov.cn/briefings/2024-W18.html", NULL, &md),
                   0);
  assert_non_null(strstr(md.data, "**总体情况**"));
  assert_non_null(strstr(md.data, "县卫健局：托位数（滞后，4.35个）"));
  assert_non_null(strstr(md.data, "执业医师数：一季度省人社厅尚未对外公布。"));
  assert_non_null(strstr(md.data, "[查看完整简报](http://x.gov.cn/briefings/2024-W18.html)"));
  /* Markdown in names is escaped; plain text keeps it and names the file without a link. */
  assert_non_null(strstr(md.data, "平阳县\\<测试\\>周报"));
  assert_int_equal(pw_report_summary(&r, 0, NULL, "/var/lib/pw/briefings/2024-W18.html", &tx), 0);
  assert_non_null(strstr(tx.data, "平阳县<测试>周报"));
  assert_null(strstr(tx.data, "**"));
  assert_non_null(strstr(tx.data, "完整简报见服务器文件 /var/lib/pw/briefings/2024-W18.html"));
  pw_buf_free(&md);
  pw_buf_free(&tx);
  /* Four hundred lagging indicators: the lists are cut, the whole stays within the limit and
   * the link is still there. */
  for (i = 0; i < 400; i++) {
    snprintf(names[i], sizeof(names[i]), "指标名称相当长的第%d个指标", i);
    many[i] = items[0];
    many[i].name = names[i];
    many[i].status = i % 2 ? PW_STATUS_SEVERE : PW_STATUS_NO_DATA;
    many[i].department = i % 3 ? "县卫健局" : "县民政局";
  }
  r.items = many;
  r.n_items = 400;
  assert_int_equal(pw_report_summary(&r, 1, "http://x.gov.cn/briefings/2024-W18.html", NULL, &md),
                   0);
  assert_true(md.len <= PW_SUMMARY_LIMIT);
  assert_non_null(strstr(md.data, "详见完整简报"));
  assert_non_null(strstr(md.data, "(http://x.gov.cn/briefings/2024-W18.html)"));
  pw_buf_free(&md);
  /* The structured document: links from public_url, none without. */
  r.items = items;
  r.n_items = 2;
  doc = pw_report_json(&r, "https://pw.example.gov.cn", "/s/briefings/2024-W18.html");
  assert_non_null(doc);
  assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "links"), "docx")),
                      "https://pw.example.gov.cn/briefings/2024-W18.docx");
  assert_int_equal(json_array_size(json_object_get(doc, "indicators")), 2);
  assert_int_equal(json_array_size(json_object_get(doc, "sections")), 2);
  json_decref(doc);
  doc = pw_report_json(&r, "", "/s/briefings/2024-W18.html");
  assert_true(json_is_null(json_object_get(json_object_get(doc, "links"), "html")));
  assert_non_null(strstr(json_string_value(json_object_get(doc, "summary_text")),
                         "/s/briefings/2024-W18.html"));
  json_decref(doc);
}

static void test_briefings_names(void **state) {
  (void)state;
  assert_int_equal(pw_briefings_kind(""), PW_BRIEFINGS_LIST);
  assert_int_equal(pw_briefings_kind("index.html"), PW_BRIEFINGS_LIST);
  assert_int_equal(pw_briefings_kind("2024-W18.html"), PW_BRIEFINGS_HTML);
  assert_int_equal(pw_briefings_kind("2024-W18.docx"), PW_BRIEFINGS_DOCX);
  assert_int_equal(pw_briefings_kind("2024-W18.md"), PW_BRIEFINGS_MD);
  assert_int_equal(pw_briefings_kind("2024-W18-places_per_1000.png"), PW_BRIEFINGS_PNG);
  assert_int_equal(pw_briefings_kind("2024-W18.json"), PW_BRIEFINGS_NONE);
  assert_int_equal(pw_briefings_kind("2024-W18.actions.md"), PW_BRIEFINGS_NONE);
  assert_int_equal(pw_briefings_kind("2024-W18.html.bak"), PW_BRIEFINGS_NONE);
  assert_int_equal(pw_briefings_kind("2024-W6.html"), PW_BRIEFINGS_NONE);
  assert_int_equal(pw_briefings_kind("2024-W68.html"), PW_BRIEFINGS_NONE);
  assert_int_equal(pw_briefings_kind("..%2f2024-W18.html"), PW_BRIEFINGS_NONE);
  assert_int_equal(pw_briefings_kind("2024-W18-../x.png"), PW_BRIEFINGS_NONE);
  assert_int_equal(pw_briefings_kind("2024-W18-.png"), PW_BRIEFINGS_NONE);
  assert_int_equal(pw_briefings_kind("2024-W18-a%00.png"), PW_BRIEFINGS_NONE);
  assert_int_equal(pw_briefings_kind("x2024-W18.md"), PW_BRIEFINGS_NONE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_xml_escape), cmocka_unit_test(test_png_size),
      cmocka_unit_test(test_extent),     cmocka_unit_test(test_report_docx),
      cmocka_unit_test(test_summary),    cmocka_unit_test(test_briefings_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}

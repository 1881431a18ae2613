/*
 * unitbench: what single calls of the store and the graph cost, measured on pacewatch's own
 * code (the unit tests used to print these; tests only assert, this measures). run.sh prints
 * the figures below its table.
 *
 *   unitbench DIR [RRDCACHED_ADDRESS]
 *
 * DIR is an empty work directory. With RRDCACHED_ADDRESS ("unix:/path"; rrdcached's -b must be
 * DIR/state for a TCP address) the store's figures are also taken through rrdcached. Output: one
 * line of tab-separated key=value records:
 *   append_ms      mean wall time of a one-point append (200 appends, each with its hold entry)
 *   rebuild_ms     wall time of a rebuild of 3650 daily points
 *   cached_append_ms, cached_rebuild_ms   the same through rrdcached (when given)
 *   png_first_ms   the first PNG of the process (Pango and fontconfig start-up)
 *   png_ms, svg_ms mean of 10 warm renders (one-year graph, 800x300, in memory)
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "calendar.h"
#include "config.h"
#include "graph.h"
#include "judge.h"
#include "store.h"
#include "util.h"

#define DAY 86400
#define T0 ((int64_t)1704067200) /* 2024-01-01T00:00:00Z */

static double now_ms(void) {
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void die(const char *what, const char *err) {
  fprintf(stderr, "unitbench: %s: %s\n", what, err);
  exit(1);
}

/* Mean ms per one-point append over N appends, then ms for a rebuild of 3650 points. */
static void time_store(struct pw_store *s, const char *id, double *append_ms, double *rebuild_ms) {
  struct pw_store_point prev = {0, 0, 0}, p, *pts;
  char err[1024];
  double t0;
  int i, n = 200;

  t0 = now_ms();
  for (i = 0; i < n; i++) {
    p.t = T0 + (int64_t)i * DAY;
    p.value = i;
    p.expected = i;
    if (pw_store_append(s, id, i > 0 ? &prev : NULL, &p, 1, err, sizeof(err)) != 0)
      die("append", err);
    prev = p;
  }
  *append_ms = (now_ms() - t0) / n;
  pts = malloc(3650 * sizeof(*pts));
  if (pts == NULL)
    die("rebuild", "out of memory");
  for (i = 0; i < 3650; i++) {
    pts[i].t = T0 + (int64_t)i * DAY;
    pts[i].value = i;
    pts[i].expected = NAN;
  }
  t0 = now_ms();
  if (pw_store_rebuild(s, id, pts, 3650, err, sizeof(err)) != 0)
    die("rebuild", err);
  *rebuild_ms = now_ms() - t0;
  free(pts);
}

static double render_ms(const struct pw_graph_request *r, int runs) {
  struct pw_graph_image img;
  char err[1024];
  double t0 = now_ms();
  int i;

  for (i = 0; i < runs; i++) {
    if (pw_graph_render(r, &img, err, sizeof(err)) != 0)
      die("render", err);
    free(img.data);
  }
  return (now_ms() - t0) / runs;
}

int main(int argc, char **argv) {
  static const char conf_text[] =
      "daemon: { state_dir = \"state\"; timezone = \"Asia/Shanghai\"; http_listen = \"\"; };\n"
      "domains = ( { id = \"d\"; name = \"幼有善育\"; } );\n"
      "indicators = ( { id = \"checkups\"; name = \"城乡居民同质同标免费健康体检人数\";\n"
      "  domain = \"d\"; unit = \"人\"; kind = \"cumulative\";\n"
      "  targets = ( { year = 2024; annual = 190000; quarters = [ 28500, 95000, 142500, 190000 ]; "
      "} ); } );\n";
  static const int days[][3] = {
      {1, 31, 14000}, {2, 29, 26000}, {3, 31, 31000}, {4, 30, 48000}, {5, 31, 62000}};
  char path[4200], tmp_dir[4200], err[1024];
  struct pw_config *conf = NULL;
  struct pw_store store, cached;
  struct pw_store_point pts[5];
  struct pw_sample samples[5];
  struct pw_verdict verdict;
  struct pw_graph_request r;
  double append_ms, rebuild_ms, c_append = NAN, c_rebuild = NAN, first, png, svg;
  int64_t at;
  FILE *f;
  int i;

  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: unitbench DIR [RRDCACHED_ADDRESS]\n");
    return 2;
  }
  snprintf(path, sizeof(path), "%s/unitbench.conf", argv[1]);
  if (pw_mkdir_p(argv[1]) < 0 || (f = fopen(path, "w")) == NULL)
    die(path, "cannot write");
  fputs(conf_text, f);
  fclose(f);
  if (pw_config_load(path, &conf, err, sizeof(err)) != 0)
    die("config", err);
  if (pw_store_init(&store, conf->daemon.state_dir, NULL, err, sizeof(err)) != 0)
    die("store", err);
  time_store(&store, "timing", &append_ms, &rebuild_ms);
  if (argc == 3) {
    if (pw_store_init(&cached, conf->daemon.state_dir, argv[2], err, sizeof(err)) != 0)
      die("store", err);
    time_store(&cached, "timing-cached", &c_append, &c_rebuild);
    pw_store_free(&cached);
  }

  /* The graph of one cumulative indicator with five monthly figures, judged at mid-June. */
  at = pw_calendar_day_end(2024, 6, 14);
  for (i = 0; i < 5; i++) {
    int64_t t = pw_calendar_day_end(2024, days[i][0], days[i][1]);
    double e;
    pts[i].t = t;
    pts[i].value = days[i][2];
    pts[i].expected = pw_judge_expected(&conf->indicators[0], &conf->cal, t, &e) == 0 ? e : NAN;
    samples[i].as_of = samples[i].fetched_at = t;
    samples[i].value = days[i][2];
    samples[i].rev = 0;
    samples[i].note = NULL;
  }
  if (pw_store_rebuild(&store, "checkups", pts, 5, err, sizeof(err)) != 0)
    die("store", err);
  pw_judge(&conf->indicators[0], samples, 5, &conf->cal, at, &verdict);
  snprintf(tmp_dir, sizeof(tmp_dir), "%s/graphs", conf->daemon.state_dir);
  pw_mkdir_p(tmp_dir);
  memset(&r, 0, sizeof(r));
  r.conf = conf;
  r.ind = 0;
  r.store = &store;
  r.verdict = &verdict;
  r.at = at;
  r.format = PW_GRAPH_PNG;
  r.tmp_dir = tmp_dir;
  first = render_ms(&r, 1);
  png = render_ms(&r, 10);
  r.format = PW_GRAPH_SVG;
  svg = render_ms(&r, 10);

  printf("append_ms=%.3f\trebuild_ms=%.1f\tcached_append_ms=%.3f\tcached_rebuild_ms=%.1f\t"
         "png_first_ms=%.1f\tpng_ms=%.1f\tsvg_ms=%.1f\n",
         append_ms, rebuild_ms, c_append, c_rebuild, first, png, svg);
  pw_store_free(&store);
  pw_config_free(conf);
  return 0;
}

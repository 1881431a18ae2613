/*
 * graph: one indicator's trend graph for one year, rendered by librrd's rrd_graph_v to PNG or
 * SVG, in memory or to a file (docs/briefing.md#graphs): each reported figure a dot with its date
 * and value, joined when several; the year's plan from the judge's target path (the pace line
 * E(t) with the quarter targets as target points, a standard's line with the latest figure's
 * comparison, a milestone's due dates); the projection to year end along the pace's shape; the
 * value axis in the indicator's unit (万/亿); the status word coloured in the title.
 *
 * May run on any thread. Reads the RRD file (through rrdcached when configured) and never
 * writes it; the drawing follows the RRD locking rule of store.h, so renders of one process run
 * one at a time and never overlap a write of the store.
 */
#ifndef PW_GRAPH_H
#define PW_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "judge.h"
#include "store.h"

/* PW_GRAPH_JSON is rrd_graph's JSON output: no picture, but the legends' text and the data
 * drawn (for tests and tools). */
enum pw_graph_format { PW_GRAPH_PNG = 0, PW_GRAPH_SVG, PW_GRAPH_JSON };

struct pw_graph_request {
  const struct pw_config *conf;
  int ind;                          /* index of the indicator */
  const struct pw_store *store;     /* where its RRD file is (and rrdcached) */
  const struct pw_verdict *verdict; /* its judgement at AT (status colour, projection) */
  int64_t at;                       /* the graph shows the year of AT */
  enum pw_graph_format format;
  int small;            /* 1: 400x150 for lists; 0: 800x300 */
  int no_axis_title;    /* 1: leave out the value axis's title (the tests compare with it) */
  const char *out_path; /* write here; NULL: return the image in memory */
  const char *tmp_dir;  /* a writable directory for a placeholder RRD when the indicator has
                           no file yet (e.g. state_dir/graphs) */
  /* Optional, may be NULL: called on the rendering thread each time another process holds the
   * file's lock and the render waits before its next attempt (ATTEMPT 1, 2, ...). */
  void (*lock_wait)(void *arg, int attempt);
  void *lock_wait_arg;
};

struct pw_graph_image {
  unsigned char *data; /* owned; free with free(). NULL when written to a file */
  size_t len;
  int width, height; /* of the whole image, as rrd_graph reports */
  /* Where the plot area is in the image (pixels from the top left corner) and what it shows:
   * the year from t_start to t_end across, y_min to y_max up, in the indicator's own unit (the
   * axis itself may read in 万 or 亿). */
  int graph_left, graph_top, graph_width, graph_height;
  int64_t t_start, t_end;
  double y_min, y_max;
};

/* Renders the graph. Returns 0 (and fills IMG, which may be NULL when writing to a file), or
 * a negative errno with "indicator 'x': ..." in ERR. */
int pw_graph_render(const struct pw_graph_request *req, struct pw_graph_image *img, char *err,
                    size_t errlen);

#endif

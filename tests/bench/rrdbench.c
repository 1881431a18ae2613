/* rrdbench.c (copied from the peers kit that measured collectd) - librrd "physical limit" anchors:
 * rrd_create, rrd_update_r (direct), rrdc_update (via rrdcached, incl. daemon CPU for receive and
 * for flush-to-disk), rrd_graph_v.
 *
 *   rrdbench create  DIR NFILES T0
 *   rrdbench update  DIR NFILES T0 ROUNDS [BATCH]              direct rrd_update_r, BATCH
 * values/file/call (default 1) rrdbench cached  DIR NFILES T0 ROUNDS ADDR RRDCACHED_PID [FE]
 * rrdc_update; every FE rounds FLUSHALL and wait rrdbench updfiles LISTFILE TSTART ROUNDS direct
 * rrd_update_r on existing files (e.g. collectd's) rrdbench gprep   FILE TEND 1 year of hourly data
 * (8784 rows) rrdbench graph   FILE TEND OUT.png COUNT SPAN_S [TITLE]     rrd_graph_v 600x200 PNG
 * Round t = T0 + 60*round. All output lines are tab separated "key=value" records.
 */
#define _GNU_SOURCE
#include <rrd.h>
#include <rrd_client.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <math.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>

/* librrd 1.7.2 does not export rrdc_flushall(): send FLUSHALL on a separate raw connection */
static int raw_flushall(const char *addr) {
  const char *path = strncmp(addr, "unix:", 5) ? addr : addr + 5;
  struct sockaddr_un sa = {.sun_family = AF_UNIX};
  strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
  int fd = socket(AF_UNIX, SOCK_STREAM, 0);
  if (fd < 0)
    return -1;
  if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  char buf[256];
  ssize_t n;
  if (write(fd, "FLUSHALL\n", 9) != 9) {
    close(fd);
    return -1;
  }
  n = read(fd, buf, sizeof buf - 1);
  close(fd);
  return (n > 0 && buf[0] != '-') ? 0 : -1;
}

static double wall(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + t.tv_nsec / 1e9;
}
static void cpu(double *u, double *s) {
  struct rusage r;
  getrusage(RUSAGE_SELF, &r);
  *u = r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6;
  *s = r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}
static double proc_cpu(long pid) { /* utime+stime of another process, seconds */
  char p[64], buf[1024];
  snprintf(p, sizeof p, "/proc/%ld/stat", pid);
  FILE *f = fopen(p, "r");
  if (!f)
    return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *q = strrchr(buf, ')');
  if (!q)
    return -1;
  unsigned long ut = 0, st = 0;
  /* after ") " : state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime
   */
  sscanf(q + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st);
  return (ut + st) / (double)sysconf(_SC_CLK_TCK);
}
static void fname(char *buf, size_t n, const char *dir, int i) {
  snprintf(buf, n, "%s/d%03d/f%05d.rrd", dir, i / 1000, i);
}
static void die_rrd(const char *what, const char *f) {
  fprintf(stderr, "%s %s: %s\n", what, f, rrd_get_error());
  exit(1);
}

static void report(const char *mode, int round, int n, double w0, double u0, double s0,
                   const char *extra) {
  double u1, s1, w1 = wall();
  cpu(&u1, &s1);
  printf("mode=%s\tround=%d\tn=%d\twall_s=%.4f\tuser_s=%.4f\tsys_s=%.4f\tus_per_op_wall=%.2f\tus_"
         "per_op_cpu=%.2f%s%s\n",
         mode, round, n, w1 - w0, u1 - u0, s1 - s0, (w1 - w0) * 1e6 / n,
         ((u1 - u0) + (s1 - s0)) * 1e6 / n, extra ? "\t" : "", extra ? extra : "");
  fflush(stdout);
}

static const char *RRA_DEF[] = {
    "DS:v:GAUGE:120:U:U",       "RRA:AVERAGE:0.5:1:1440", /* 1 day of 1-min  */
    "RRA:AVERAGE:0.5:60:744",                             /* 31 days hourly  */
    "RRA:AVERAGE:0.5:1440:732",                           /* 2 years daily   */
    "RRA:MIN:0.5:60:744",       "RRA:MAX:0.5:60:744",
};

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "see source header for usage\n");
    return 2;
  }
  const char *mode = argv[1];
  char f[4096], val[64];
  double w0, u0, s0;
  if (!strcmp(mode, "create") && argc >= 5) {
    const char *dir = argv[2];
    int n = (int)atol(argv[3]);
    long t0 = atol(argv[4]);
    for (int d = 0; d <= (n - 1) / 1000; d++) {
      snprintf(f, sizeof f, "%s/d%03d", dir, d);
      mkdir(f, 0755);
    }
    w0 = wall();
    cpu(&u0, &s0);
    for (int i = 0; i < n; i++) {
      fname(f, sizeof f, dir, i);
      rrd_clear_error();
      if (rrd_create_r(f, 60, t0 - 60, sizeof RRA_DEF / sizeof *RRA_DEF, RRA_DEF) != 0)
        die_rrd("create", f);
    }
    struct stat st;
    fname(f, sizeof f, dir, 0);
    stat(f, &st);
    char ex[64];
    snprintf(ex, sizeof ex, "file_bytes=%ld\trrd=%s", (long)st.st_size, rrd_strversion());
    report("create", 0, n, w0, u0, s0, ex);
  } else if (!strcmp(mode, "pwcreate") && argc >= 5) {
    /* pacewatch's own layout (daemon/store.c): step 1 h, two GAUGE sources, LAST and AVERAGE
     * at 1 h x 2160 and 1 d x 3660 (188 KB): the floor of creating a province's files. */
    static const char *PW_DEF[] = {"DS:value:GAUGE:34560000:U:U", "DS:expected:GAUGE:34560000:U:U",
                                   "RRA:LAST:0.5:1:2160",         "RRA:AVERAGE:0.5:1:2160",
                                   "RRA:LAST:0.5:24:3660",        "RRA:AVERAGE:0.5:24:3660"};
    const char *dir = argv[2];
    int n = (int)atol(argv[3]);
    long t0 = atol(argv[4]);
    for (int d = 0; d <= (n - 1) / 1000; d++) {
      snprintf(f, sizeof f, "%s/d%03d", dir, d);
      mkdir(f, 0755);
    }
    w0 = wall();
    cpu(&u0, &s0);
    for (int i = 0; i < n; i++) {
      fname(f, sizeof f, dir, i);
      rrd_clear_error();
      if (rrd_create_r(f, 3600, t0 - 3600, sizeof PW_DEF / sizeof *PW_DEF, PW_DEF) != 0)
        die_rrd("create", f);
    }
    struct stat st;
    fname(f, sizeof f, dir, 0);
    stat(f, &st);
    char ex[64];
    snprintf(ex, sizeof ex, "file_bytes=%ld", (long)st.st_size);
    report("pwcreate", 0, n, w0, u0, s0, ex);
  } else if (!strcmp(mode, "journal") && argc >= 5) {
    /* Appends NLINES journal-like lines, fsync'd every BURST lines (a poll's worth): the floor
     * of journaling a value durably. */
    long n = atol(argv[3]), burst = atol(argv[4]);
    FILE *j = fopen(argv[2], "a");
    if (j == NULL || burst < 1) {
      perror(argv[2]);
      return 1;
    }
    w0 = wall();
    cpu(&u0, &s0);
    for (long i = 0; i < n; i++) {
      fprintf(j,
              "2026-11-28T17:%02ld:%02ld+08:00\tc%04ld_%03ld\t%.17g\t2026-11-28T17:%02ld:%02ld+08:"
              "00\tc%04ld\n",
              (i / 60) % 60, i % 60, i / 10 % 10000, i % 10, 1795887085.0 + (double)i / 10,
              (i / 60) % 60, i % 60, i / 10 % 10000);
      if ((i + 1) % burst == 0 && (fflush(j) != 0 || fsync(fileno(j)) != 0)) {
        perror(argv[2]);
        return 1;
      }
    }
    fclose(j);
    report("journal", 0, (int)n, w0, u0, s0, "");
  } else if (!strcmp(mode, "update") && argc >= 6) {
    const char *dir = argv[2];
    int n = (int)atol(argv[3]);
    long t0 = atol(argv[4]);
    int rounds = (int)atol(argv[5]);
    int batch =
        argc > 6 ? (int)atol(argv[6]) : 1; /* values per rrd_update_r call (consecutive steps) */
    if (batch < 1 || batch > 1000)
      batch = 1;
    static char vb[1000][64];
    const char *av[1000];
    char mname[64];
    snprintf(mname, sizeof mname, batch == 1 ? "update_direct" : "update_direct_batch%d", batch);
    for (int r = 1; r <= rounds; r++) {
      w0 = wall();
      cpu(&u0, &s0);
      for (int i = 0; i < n; i++) {
        fname(f, sizeof f, dir, i);
        for (int j = 0; j < batch; j++) {
          snprintf(vb[j], 64, "%ld:%.1f", t0 + 60L * ((long)(r - 1) * batch + j + 1),
                   (double)((i * 37 + r + j) % 1000));
          av[j] = vb[j];
        }
        rrd_clear_error();
        if (rrd_update_r(f, NULL, batch, av) != 0)
          die_rrd("update", f);
      }
      report(mname, r, n * batch, w0, u0, s0, NULL); /* n counts values */
    }
  } else if (!strcmp(mode, "updfiles") && argc >= 5) {
    FILE *lf = fopen(argv[2], "r");
    if (!lf) {
      perror(argv[2]);
      return 1;
    }
    long ts = atol(argv[3]);
    int rounds = (int)atol(argv[4]), n = 0, cap = 1024;
    char **list = malloc(cap * sizeof *list);
    while (fgets(f, sizeof f, lf)) {
      f[strcspn(f, "\n")] = 0;
      if (!*f)
        continue;
      if (n == cap)
        list = realloc(list, (cap *= 2) * sizeof *list);
      list[n++] = strdup(f);
    }
    fclose(lf);
    for (int r = 0; r < rounds; r++) {
      w0 = wall();
      cpu(&u0, &s0);
      for (int i = 0; i < n; i++) {
        snprintf(val, sizeof val, "%ld:%.1f", ts + r, (double)((i * 37 + r) % 1000));
        const char *av[1] = {val};
        rrd_clear_error();
        if (rrd_update_r(list[i], NULL, 1, av) != 0)
          die_rrd("update", list[i]);
      }
      report("update_direct_files", r + 1, n, w0, u0, s0, NULL);
    }
  } else if (!strcmp(mode, "cached") && argc >= 8) {
    const char *dir = argv[2];
    int n = (int)atol(argv[3]);
    long t0 = atol(argv[4]);
    int rounds = (int)atol(argv[5]);
    const char *addr = argv[6];
    long dpid = atol(argv[7]);
    int fe = argc > 8 ? (int)atol(argv[8])
                      : 1; /* FLUSHALL only every fe rounds -> fe values per file write */
    if (fe < 1)
      fe = 1;
    char mname[64];
    snprintf(mname, sizeof mname, fe == 1 ? "update_rrdcached" : "update_rrdcached_flush%d", fe);
    if (rrdc_connect(addr) != 0)
      die_rrd("rrdc_connect", addr);
    for (int r = 1; r <= rounds; r++) {
      double d0 = proc_cpu(dpid);
      w0 = wall();
      cpu(&u0, &s0);
      for (int i = 0; i < n; i++) {
        fname(f, sizeof f, dir, i);
        snprintf(val, sizeof val, "%ld:%.1f", t0 + 60L * r, (double)((i * 37 + r) % 1000));
        const char *av[1] = {val};
        if (rrdc_update(f, 1, av) != 0)
          die_rrd("rrdc_update", f);
      }
      double d1 = proc_cpu(dpid), wr = wall();
      if (r % fe) { /* no flush this round: report client + daemon receive cost only */
        char ex[256];
        snprintf(ex, sizeof ex,
                 "client_wall_us_per_op=%.2f\tdaemon_recv_cpu_s=%.3f\tdaemon_recv_us_per_op=%.2f",
                 (wr - w0) * 1e6 / n, d1 - d0, (d1 - d0) * 1e6 / n);
        report(mname, r, n, w0, u0, s0, ex);
        continue;
      }
      /* now force the daemon to write everything and wait until it is on disk */
      rrdc_stats_t *sp = NULL;
      uint64_t written0 = 0;
      if (rrdc_stats_get(&sp) == 0) {
        for (rrdc_stats_t *p = sp; p; p = p->next)
          if (!strcmp(p->name, "UpdatesWritten"))
            written0 = p->value.counter;
        rrdc_stats_free(sp);
      }
      if (raw_flushall(addr) != 0)
        die_rrd("rrdc_flushall", addr);
      uint64_t written = 0;
      long qlen = 1;
      int polls = 0;
      for (; polls < 60000; polls++) { /* bounded: max ~60 s */
        sp = NULL;
        qlen = -1;
        if (rrdc_stats_get(&sp) != 0)
          die_rrd("stats", addr);
        for (rrdc_stats_t *p = sp; p; p = p->next) {
          if (!strcmp(p->name, "UpdatesWritten"))
            written = p->value.counter;
          if (!strcmp(p->name, "QueueLength"))
            qlen = (long)p->value.gauge;
        }
        rrdc_stats_free(sp);
        if (qlen == 0 && written - written0 >= (uint64_t)n)
          break; /* UpdatesWritten counts rrd_update calls = files */
        usleep(1000);
      }
      double d2 = proc_cpu(dpid), wf = wall();
      char ex[512];
      snprintf(ex, sizeof ex,
               "client_wall_us_per_op=%.2f\tdaemon_recv_cpu_s=%.3f\tdaemon_recv_us_per_op=%.2f\t"
               "flush_wall_s=%.3f\tdaemon_flush_cpu_s=%.3f\tdaemon_flush_us_per_value=%.2f\tvalues_"
               "per_file_write=%d\twritten=%llu",
               (wr - w0) * 1e6 / n, d1 - d0, (d1 - d0) * 1e6 / n, wf - wr, d2 - d1,
               (d2 - d1) * 1e6 / ((double)n * fe), fe, (unsigned long long)(written - written0));
      report(mname, r, n, w0, u0, s0, ex); /* note: wall here includes flush wait + stats polling */
    }
    rrdc_disconnect();
  } else if (!strcmp(mode, "gprep") && argc >= 4) {
    const char *file = argv[2];
    long tend = atol(argv[3]);
    long rows = 8784, t0 = tend - rows * 3600;
    const char *def[] = {"DS:v:GAUGE:7200:U:U", "RRA:AVERAGE:0.5:1:8784", "RRA:MIN:0.5:1:8784",
                         "RRA:MAX:0.5:1:8784"};
    unlink(file);
    if (rrd_create_r(file, 3600, t0 - 3600, 4, def) != 0)
      die_rrd("create", file);
    enum { B = 100 };
    static char bufs[B][64];
    const char *av[B];
    srand(42);
    w0 = wall();
    cpu(&u0, &s0);
    for (long k = 0; k < rows; k += B) {
      int m = 0;
      for (; m < B && k + m < rows; m++) {
        long t = t0 + (k + m) * 3600;
        double x = (k + m) / 24.0;
        snprintf(bufs[m], 64, "%ld:%.2f", t,
                 500 + 200 * sin(x * 2 * M_PI / 365) + 80 * sin(x * 2 * M_PI) + (rand() % 100));
        av[m] = bufs[m];
      }
      if (rrd_update_r(file, NULL, m, av) != 0)
        die_rrd("update", file);
    }
    report("gprep_fill_1y_hourly", 0, (int)rows, w0, u0, s0, NULL);
  } else if (!strcmp(mode, "graph") && argc >= 7) {
    const char *file = argv[2];
    long tend = atol(argv[3]);
    const char *out = argv[4];
    int count = (int)atol(argv[5]);
    long span = atol(argv[6]);
    const char *title = argc > 7 ? argv[7] : "pingyang ind_001 - 1 year";
    char s_start[32], s_end[32], d1[4200], d2[4200];
    snprintf(s_start, sizeof s_start, "%ld", tend - span);
    snprintf(s_end, sizeof s_end, "%ld", tend);
    snprintf(d1, sizeof d1, "DEF:v=%s:v:AVERAGE", file);
    snprintf(d2, sizeof d2, "DEF:m=%s:v:MAX", file);
    const char *av[] = {"graph",
                        out,
                        "--imgformat",
                        "PNG",
                        "--start",
                        s_start,
                        "--end",
                        s_end,
                        "--width",
                        "600",
                        "--height",
                        "200",
                        "--title",
                        title,
                        "--vertical-label",
                        "value",
                        d1,
                        d2,
                        "LINE1:v#0066cc:avg",
                        "LINE1:m#cc000080:max",
                        "HRULE:800#ff8800:threshold",
                        "VDEF:va=v,AVERAGE",
                        "VDEF:vm=m,MAXIMUM",
                        "VDEF:vl=v,LAST",
                        "GPRINT:va:avg %6.1lf",
                        "GPRINT:vm:max %6.1lf",
                        "GPRINT:vl:last %6.1lf"};
    int ac = sizeof av / sizeof *av;
    double *ms = calloc(count + 1, sizeof *ms);
    double cu0, cs0, tu = 0;
    for (int i = 0; i <= count; i++) { /* i == 0: first graph in process (font/pango init) */
      w0 = wall();
      cpu(&cu0, &cs0);
      rrd_clear_error();
      optind = 0;
      opterr = 0;
      rrd_info_t *info = rrd_graph_v(ac, (char **)av);
      if (!info)
        die_rrd("graph", out);
      rrd_info_free(info);
      double cu1, cs1;
      cpu(&cu1, &cs1);
      ms[i] = (wall() - w0) * 1e3;
      if (i)
        tu += (cu1 - cu0) + (cs1 - cs0);
    }
    /* sort i>=1 for median/p95 */
    for (int i = 1; i <= count; i++)
      for (int j = i + 1; j <= count; j++)
        if (ms[j] < ms[i]) {
          double t = ms[i];
          ms[i] = ms[j];
          ms[j] = t;
        }
    double sum = 0;
    for (int i = 1; i <= count; i++)
      sum += ms[i];
    struct stat st;
    stat(out, &st);
    printf("mode=graph\tspan_s=%ld\tcount=%d\tfirst_ms=%.2f\tmean_ms=%.2f\tmedian_ms=%.2f\tp95_ms=%"
           ".2f\tmin_ms=%.2f\tcpu_ms_per_graph=%.2f\tpng_bytes=%ld\ttitle=%s\n",
           span, count, ms[0], sum / count, ms[1 + (count - 1) / 2],
           ms[1 + (int)((count - 1) * 0.95)], ms[1], tu * 1e3 / count, (long)st.st_size, title);
    free(ms);
  } else {
    fprintf(stderr, "bad args; see source header\n");
    return 2;
  }
  return 0;
}

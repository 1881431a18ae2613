/*
 * docx: the weekly briefing as an editable Word document (docs/briefing.md "Files"): a minimal
 * WordprocessingML package written with libzip, in the form of a Chinese official document (A4,
 * title 方正小标宋/宋体 bold 二号, headings 黑体 三号, body 仿宋 三号 with a first-line indent of
 * two characters, page numbers in the footer), graphs as inline pictures and the appendix's
 * table as a Word table. The XML helpers below are pure and unit-tested
 * (tests/unit/test_docx.c).
 */
#ifndef PW_DOCX_H
#define PW_DOCX_H

#include <stddef.h>
#include <stdint.h>

#include "report.h"
#include "util.h"

/* English Metric Units: 914400 per inch, 360000 per centimetre. */
#define PW_EMU_PER_INCH 914400LL

/* Appends S (UTF-8) to OUT escaped for XML text and attribute values: & < > " ' as entities;
 * characters XML 1.0 forbids (controls other than tab, LF and CR; U+FFFE, U+FFFF) dropped;
 * malformed UTF-8 (stray bytes, overlong forms, surrogates, past U+10FFFF) replaced by U+FFFD.
 * Returns 0, -ENOMEM or -E2BIG. */
int pw_xml_escape(struct pw_buf *out, const char *s);

/* The width and height in pixels from a PNG's IHDR (the first 24 bytes). Returns 0, or -EINVAL
 * when DATA is not a PNG or a side is 0 or above 2^31 - 1. */
int pw_png_size(const unsigned char *data, size_t len, uint32_t *w, uint32_t *h);

/* The extent of a W x H pixel picture shown at DPI dots per inch, in EMU, scaled down (never
 * up) to at most MAX_CX EMU wide with its aspect kept; 0 for MAX_CX means no bound. Rounds to
 * the nearest EMU; never returns a side below 1. Returns 0, or -EINVAL for a side or DPI of 0. */
int pw_docx_extent(uint32_t w, uint32_t h, uint32_t dpi, int64_t max_cx, int64_t *cx, int64_t *cy);

/* Writes R as a .docx at PATH (atomically; a file of the same name is replaced). The pictures
 * are read from the image blocks' PNG files; one that cannot be read is replaced by the words
 * 图表生成失败. Returns 0 or a negative errno with ERR set. Blocking. */
int pw_report_docx(const struct pw_report *r, const char *path, char *err, size_t errlen);

#endif

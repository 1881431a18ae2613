/*
 * report_upload: the part of the department reporting page that takes an Excel workbook
 * (docs/http.md "Uploading a workbook"): a file input whose workbook the page's second script
 * posts as it is to /report/<department>/upload with the token, the preview the daemon answers
 * (every row read: the indicator, the value as read, the date, the note, and 可保存 or why not),
 * and a 确认保存 button that posts each row that can be saved through the figure route, one
 * after the other, showing each row's answer. Rows that cannot be saved (another department's
 * indicator among them) are never posted. The script is allowed by its hash in the page's
 * Content-Security-Policy (report_page.h) and puts every text from the workbook into the page
 * as text, never as markup. Loop thread.
 */
#ifndef PW_REPORT_UPLOAD_H
#define PW_REPORT_UPLOAD_H

/* The upload's part of the shell: its style and its section (static text). */
const char *pw_report_upload_part(void);

/* The upload's script (static text), run after the page's own. */
const char *pw_report_upload_script(void);

#endif

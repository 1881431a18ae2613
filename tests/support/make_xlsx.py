#!/usr/bin/python3
'''Excel workbooks as departments send them, written by openpyxl (Debian's python3-openpyxl),
for the xlsx tests (tests/integration/test_xlsx.py) and the seed corpus of fuzz_xlsx
(`make_xlsx.py corpus DIR` writes it). What openpyxl cannot write (inline strings, rich text
runs with a phonetic guide, a document type declaration, a zip bomb) is made by rewriting the
parts of a workbook it wrote (docs/spreadsheets.md).'''
import datetime
import io
import re
import sys
import zipfile

import openpyxl
from openpyxl.utils.datetime import CALENDAR_MAC_1904

OLE2 = bytes.fromhex("D0CF11E0A1B11AE1")


def save(wb):
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def rewrite(data, parts):
    '''The workbook DATA with each part NAME of PARTS replaced: by FUNC(text) when a callable,
    else by the bytes or text given.'''
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename in parts:
                new = parts[info.filename]
                body = new(body.decode("utf-8")) if callable(new) else new
                if isinstance(body, str):
                    body = body.encode("utf-8")
            z.writestr(info.filename, body)
        for name, new in parts.items():
            if name not in src.namelist():
                z.writestr(name, new.encode("utf-8") if isinstance(new, str) else new)
    return out.getvalue()


INLINE = re.compile(r'<c r="([A-Z]+[0-9]+)"([^>]*) t="inlineStr"><is><t([^>]*)>(.*?)</t></is></c>')
SST_TYPE = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
SST_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"


def shared(data, keep=(), runs=None):
    '''The workbook DATA (as openpyxl writes it: every string inline) with its strings moved to a
    shared string table, as Excel writes them, except the cells of KEEP; RUNS maps a string's
    XML text to the <si> content that replaces it (rich text runs).'''
    z = zipfile.ZipFile(io.BytesIO(data))
    sheets = [n for n in z.namelist() if n.startswith("xl/worksheets/sheet")]
    strings, index, parts = [], {}, {}
    for name in sheets:
        def one(m):
            ref, attrs, tattrs, text = m.groups()
            if ref in keep:
                return m[0]
            if text not in index:
                index[text] = len(strings)
                strings.append(text)
            return f'<c r="{ref}"{attrs} t="s"><v>{index[text]}</v></c>'
        parts[name] = INLINE.sub(one, z.read(name).decode("utf-8"))
    runs = runs or {}
    sis = "".join(f"<si>{runs[t]}</si>" if t in runs else f'<si><t xml:space="preserve">{t}</t></si>'
                  for t in strings)
    parts["xl/sharedStrings.xml"] = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://schemas.'
        f'openxmlformats.org/spreadsheetml/2006/main" count="{len(strings)}" '
        f'uniqueCount="{len(strings)}">{sis}</sst>')
    parts["xl/_rels/workbook.xml.rels"] = lambda x: x.replace(
        "</Relationships>", f'<Relationship Id="rIdSst" Type="{SST_TYPE}" '
        'Target="sharedStrings.xml"/></Relationships>')
    parts["[Content_Types].xml"] = lambda x: x.replace(
        "</Types>", f'<Override PartName="/xl/sharedStrings.xml" ContentType="{SST_CT}"/></Types>')
    return rewrite(data, parts)


def report_book():
    '''报表.xlsx: sheet 报表 with a merged title row, the Chinese header, dates as serial numbers
    and as text, a percentage, numbers written as text, an empty row and notes; sheet 二月 with
    the English header.'''
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "报表"
    ws.merge_cells("A1:E1")
    ws["A1"] = "2024年一季度指标报送表"
    ws.append(["指标", "指标名称", "日期", "数值", "备注"])
    ws.append(["trail", "环浙步道进度率", datetime.date(2024, 3, 31), 0.85, "等待上级验收"])
    ws["D3"].number_format = "0%"
    ws.append(["places", "每千人托位数", "2024年3月31日", 4.35, "备案机构90家"])
    ws.append([])
    ws.append(["score", "均衡得分", datetime.datetime(2024, 3, 31), " 84 ", None])
    ws["C6"].number_format = 'yyyy"年"m"月"d"日"'
    ws.append(["gdp", "地区生产总值", "2024-03-31", "51.03万", None])
    two = wb.create_sheet("二月")
    two.append(["indicator", "as_of", "value", "note"])
    two.append(["gdp", "2024/2/29", "1,234", "全市第3"])
    return wb


def report():
    '''报表.xlsx (report_book) with its strings shared, as Excel writes them.'''
    return shared(save(report_book()))


def report_1904():
    '''The same as report(), in the 1904 date system.'''
    wb = report_book()
    wb.epoch = CALENDAR_MAC_1904
    return shared(save(wb))


def inline_and_rich():
    '''report() with the note of places (E4) an inline string of two rich text runs, and the
    note of trail a shared string of two runs and a phonetic guide (not part of the text).'''
    def sheet(xml):
        xml, n = re.subn(r'<c r="E4"([^>]*) t="inlineStr"><is><t>[^<]*</t></is></c>',
                         r'<c r="E4"\1 t="inlineStr"><is><r><t>备案机构</t></r>'
                         r'<r><rPr><b/></rPr><t>91家</t></r></is></c>', xml)
        assert n == 1, xml
        return xml

    data = rewrite(save(report_book()), {"xl/worksheets/sheet1.xml": sheet})
    wait = "&#31561;&#24453;&#19978;&#32423;&#39564;&#25910;"  # 等待上级验收 as openpyxl writes it
    return shared(data, keep=("E4",), runs={
        wait: '<r><t>等待</t></r><r><rPr><b/></rPr><t xml:space="preserve">上级验收</t></r>'
              '<rPh sb="0" eb="2"><t>děng dài</t></rPh>'})


def mapped():
    '''A sheet without the usual header: a title, then a header of its own words, data from row
    3 in columns B (indicator), D (date) and E (value).'''
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    ws.append(["县统计局报送"])
    ws.append(["序号", "代码", "名称", "截止日期", "完成值"])
    ws.append([1, "gdp", "地区生产总值", datetime.date(2024, 4, 30), 520000])
    ws.append([2, "places", "每千人托位数", datetime.date(2024, 4, 30), "4.4"])
    return shared(save(wb))


def serial(number, fmt="yyyy-mm-dd"):
    '''One row whose date is the serial NUMBER under the date format FMT (1900 system).'''
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["indicator", "as_of", "value"])
    ws.append(["gdp", number, 1])
    ws["B2"].number_format = fmt
    return shared(save(wb))


def bad_cell():
    '''A value that is not a figure, in 报表!D4.'''
    wb = report_book()
    wb["报表"]["D4"] = "待定"
    return shared(save(wb))


def source():
    '''指标表.xlsx for the plugin: a merged title, a two-row header (指标代码 and 指标名称 merged
    down, 本期 merged across 数值 and 截至), keyed rows, and Sheet2!C5.'''
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "指标表"
    ws.merge_cells("A1:D1")
    ws["A1"] = "县统计局月报"
    ws["A2"], ws["B2"], ws["C2"] = "指标代码", "指标名称", "本期"
    ws.merge_cells("A2:A3")
    ws.merge_cells("B2:B3")
    ws.merge_cells("C2:D2")
    ws["C3"], ws["D3"] = "数值", "截至"
    ws.append(["TJ01", "地区生产总值", "51.03万", datetime.date(2024, 3, 31)])
    ws.append([])
    ws.append(["TJ02", "每千人托位数", 4.35, "2024年3月31日"])
    ws.append(["TJ03", "完成率", 0.853, datetime.date(2024, 3, 31)])
    ws["C7"].number_format = "0.0%"
    two = wb.create_sheet("Sheet2")
    two["C5"] = 84
    return shared(save(wb))


def empty():
    '''A workbook of one empty sheet.'''
    return save(openpyxl.Workbook())


def xls():
    '''An old binary .xls file: the OLE2 signature and zeros.'''
    return OLE2 + bytes(504)


def not_zip():
    return b"PK\x03\x04 this is not a zip archive at all"


def zip_bomb():
    '''A workbook whose sheet is 32 MiB of spaces, compressed about a thousand times.'''
    def sheet(xml):
        return xml.replace("<sheetData>", "<sheetData>" + " " * (32 << 20), 1)
    return rewrite(report(), {"xl/worksheets/sheet1.xml": sheet})


def doctype():
    '''A workbook whose workbook.xml declares entities (the "billion laughs"): refused.'''
    def wbxml(xml):
        decl = ('<!DOCTYPE workbook [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;'
                '&a;&a;&a;">]>')
        if xml.startswith("<?xml"):
            end = xml.index("?>") + 2
            return xml[:end] + decl + xml[end:]
        return decl + xml
    return rewrite(report(), {"xl/workbook.xml": wbxml})


def corpus(directory):
    '''The seed corpus of fuzz_xlsx: small workbooks of each kind.'''
    import os
    os.makedirs(directory, exist_ok=True)
    files = {"report.xlsx": report(), "report-1904.xlsx": report_1904(),
             "inline-rich.xlsx": inline_and_rich(), "mapped.xlsx": mapped(),
             "source.xlsx": source(), "old.xls": xls(), "not-zip.bin": not_zip(),
             "doctype.xlsx": doctype(), "empty-sheet.xlsx": empty()}
    for name, data in files.items():
        with open(os.path.join(directory, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "corpus":
        corpus(sys.argv[2])
    else:
        sys.exit("usage: make_xlsx.py corpus DIR")

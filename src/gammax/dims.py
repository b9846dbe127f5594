"""The one vocabulary of dimension names used throughout gammax.

Code selects by these names, never by axis position. Import the constants
instead of spelling the strings::

    from gammax import dims
    aeff.sel({dims.ENERGY_TRUE: 1.0}, method="nearest")
"""

from __future__ import annotations

__all__ = [
    "BOUNDS",
    "ENERGY",
    "ENERGY_TRUE",
    "EVENT",
    "FOV_LAT",
    "FOV_LON",
    "GTI",
    "HDU",
    "HPX_PIX",
    "IRF_AXES",
    "MIGRA",
    "OBS_ID",
    "OFFSET",
    "RAD",
    "SKY_DIMS",
    "TIME",
    "X",
    "Y",
    "bounds_name",
]

#: One row of an event list.
EVENT = "event"
#: Observation identifier (run number).
OBS_ID = "obs_id"
#: Reconstructed energy.
ENERGY = "energy"
#: True energy.
ENERGY_TRUE = "energy_true"
#: Energy migration, reconstructed over true energy.
MIGRA = "migra"
#: Offset from the pointing position.
OFFSET = "offset"
#: Angular distance from the true source position (PSF).
RAD = "rad"
#: Field-of-view longitude (aligned with RA/DEC or ALT/AZ, see ``FOVALIGN``).
FOV_LON = "fov_lon"
#: Field-of-view latitude.
FOV_LAT = "fov_lat"
#: Time bins or intervals.
TIME = "time"
#: One good-time interval.
GTI = "gti"
#: One row of an HDU index table.
HDU = "hdu"
#: The two-element dimension of CF bounds variables (``(n, 2)`` lower, upper).
BOUNDS = "bounds"

#: Sky pixel column of a WCS map (pixel axis 1 of the FITS image; not longitude in general).
X = "x"
#: Sky pixel row of a WCS map (pixel axis 2 of the FITS image; not latitude in general).
Y = "y"
#: Pixel of a HEALPix map; its coordinate holds the global (all-sky) HEALPix index.
HPX_PIX = "hpx_pix"
#: Every sky pixel dimension name, in the order they appear in a map.
SKY_DIMS = (Y, X, HPX_PIX)

#: Every dimension name an IRF table may carry.
IRF_AXES = (ENERGY_TRUE, ENERGY, MIGRA, OFFSET, RAD, FOV_LON, FOV_LAT)


def bounds_name(dim: str) -> str:
    """Name of the CF bounds variable that belongs to coordinate ``dim``.

    Examples
    --------
    >>> bounds_name("energy_true")
    'energy_true_bounds'
    """
    return f"{dim}_bounds"

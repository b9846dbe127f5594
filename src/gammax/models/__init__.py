"""Models: parameters, spectral / spatial / temporal models, sky models and YAML files.

Models are declarative: each has named :class:`Parameter` objects (value,
unit, bounds, frozen flag, factor x scale conditioning, prior) and pure numpy
kernels evaluated over xarray coordinates (lazily for dask inputs). Parameters
are linked by *name* (key or ``link`` label), never by Python object
identity, so a likelihood can be a pure function of a parameter vector
(:meth:`Models.parameter_space`). Model files are Gammapy's YAML.

Examples
--------
>>> import astropy.units as u
>>> from gammax.models import Models, PowerLawSpectralModel, PointSpatialModel, SkyModel
>>> crab = SkyModel(PowerLawSpectralModel(index=2.6), PointSpatialModel(lon_0="83.63 deg",
...                 lat_0="22.01 deg"), name="crab")
>>> models = Models([crab])
>>> models.free_parameter_names
('crab.spectral.index', 'crab.spectral.amplitude', 'crab.spatial.lon_0', 'crab.spatial.lat_0')
>>> float(crab.spectral_model(1 * u.TeV, values={"index": 3.0}))
1e-12
"""

from __future__ import annotations

from .collection import Models, ParameterSpace
from .core import Model
from .covariance import Covariance
from .io import from_yaml, model_from_dict, models_from_dict, read_models, to_yaml, write_models
from .parameters import Parameter, Parameters
from .priors import (
    GaussianPrior,
    GeneralizedGaussianPrior,
    LogUniformPrior,
    Prior,
    UniformPrior,
    prior_from_dict,
)
from .registry import get_model_class, registry
from .sky import FoVBackgroundModel, SkyModel, TemplateNPredModel
from .spatial import SpatialModel
from .spatial_models import (
    ConstantFluxSpatialModel,
    ConstantSpatialModel,
    DiskSpatialModel,
    GaussianSpatialModel,
    GeneralizedGaussianSpatialModel,
    PointSpatialModel,
    Shell2SpatialModel,
    ShellSpatialModel,
)
from .spatial_template import TemplateSpatialModel
from .spectral import CompoundSpectralModel, SpectralModel, bin_bounds, log_quadrature
from .spectral_cutoff import (
    ExpCutoffPowerLaw3FGLSpectralModel,
    ExpCutoffPowerLawSpectralModel,
    SuperExpCutoffPowerLaw3FGLSpectralModel,
    SuperExpCutoffPowerLaw4FGLDR3SpectralModel,
    SuperExpCutoffPowerLaw4FGLSpectralModel,
)
from .spectral_norm import (
    ExpCutoffPowerLawNormSpectralModel,
    LogParabolaNormSpectralModel,
    PiecewiseNormSpectralModel,
    PowerLawNormSpectralModel,
)
from .spectral_powerlaw import (
    BrokenPowerLawSpectralModel,
    ConstantSpectralModel,
    GaussianSpectralModel,
    LogParabola2SpectralModel,
    LogParabolaSpectralModel,
    PowerLaw2SpectralModel,
    PowerLawSpectralModel,
    SmoothBrokenPowerLawSpectralModel,
)
from .spectral_template import TemplateSpectralModel
from .temporal import (
    ConstantTemporalModel,
    ExpDecayTemporalModel,
    GaussianTemporalModel,
    GeneralizedGaussianTemporalModel,
    LinearTemporalModel,
    PowerLawTemporalModel,
    SineTemporalModel,
    TemporalModel,
)
from .temporal_template import LightCurveTemplateTemporalModel

__all__ = [
    "BrokenPowerLawSpectralModel",
    "CompoundSpectralModel",
    "ConstantFluxSpatialModel",
    "ConstantSpatialModel",
    "ConstantSpectralModel",
    "ConstantTemporalModel",
    "Covariance",
    "DiskSpatialModel",
    "ExpCutoffPowerLaw3FGLSpectralModel",
    "ExpCutoffPowerLawNormSpectralModel",
    "ExpCutoffPowerLawSpectralModel",
    "ExpDecayTemporalModel",
    "FoVBackgroundModel",
    "GaussianPrior",
    "GaussianSpatialModel",
    "GaussianSpectralModel",
    "GaussianTemporalModel",
    "GeneralizedGaussianPrior",
    "GeneralizedGaussianSpatialModel",
    "GeneralizedGaussianTemporalModel",
    "LightCurveTemplateTemporalModel",
    "LinearTemporalModel",
    "LogParabola2SpectralModel",
    "LogParabolaNormSpectralModel",
    "LogParabolaSpectralModel",
    "LogUniformPrior",
    "Model",
    "Models",
    "Parameter",
    "ParameterSpace",
    "Parameters",
    "PiecewiseNormSpectralModel",
    "PointSpatialModel",
    "PowerLaw2SpectralModel",
    "PowerLawNormSpectralModel",
    "PowerLawSpectralModel",
    "PowerLawTemporalModel",
    "Prior",
    "Shell2SpatialModel",
    "ShellSpatialModel",
    "SineTemporalModel",
    "SkyModel",
    "SmoothBrokenPowerLawSpectralModel",
    "SpatialModel",
    "SpectralModel",
    "SuperExpCutoffPowerLaw3FGLSpectralModel",
    "SuperExpCutoffPowerLaw4FGLDR3SpectralModel",
    "SuperExpCutoffPowerLaw4FGLSpectralModel",
    "TemplateNPredModel",
    "TemplateSpatialModel",
    "TemplateSpectralModel",
    "TemporalModel",
    "UniformPrior",
    "bin_bounds",
    "from_yaml",
    "get_model_class",
    "log_quadrature",
    "model_from_dict",
    "models_from_dict",
    "prior_from_dict",
    "read_models",
    "registry",
    "to_yaml",
    "write_models",
]

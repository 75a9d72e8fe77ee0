"""xstilts: English intermediate-task size vs adversarial degradation of zero-shot cross-lingual transfer."""

from .core import portable as _portable

_LATE = _portable.late()  # libraries imported before xstilts keep their own kernel paths (see xstilts.core.portable)
_portable.apply()  # before torch and numpy load: the same bytes on any AVX2 x86-64 CPU

__version__ = "0.1.0"

"""Local stand-ins for hub artefacts (tokenizers, mirrors) that let the paper profile's code paths be rehearsed
offline."""

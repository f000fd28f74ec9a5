"""The refiner service: diffusion refinement of dyadic motion (CHAT §4.3: SFBG, RFBG, TCR)."""

"""Readers: CryoSPARC and RELION metadata → ParticleMetadata; MRC stacks → images."""

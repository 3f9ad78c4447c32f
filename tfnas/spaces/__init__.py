"""Search spaces: choices, genotypes (JSON), derivation rules and child networks."""
from tfnas.spaces.base import GenotypeError, genotype_from_json, load_genotype, save_genotype

__all__ = ["GenotypeError", "genotype_from_json", "load_genotype", "save_genotype"]

"""Model zoo: where weights and tokenizers come from (packaged assets, random configs, hub, folders)."""

"""The offline replay of the May 2025 story: a loopback server, the timeline, a mail folder."""

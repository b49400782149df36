// Folder ingest: VDBCore + VDBCLIP.
import VDBCore
import VDBCLIP

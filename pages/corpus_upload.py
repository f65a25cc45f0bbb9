"""Upload: many files at once into an existing or a new collection, each with its own progress and outcome."""
import streamlit as st

from backend.corpus.upload import start_upload, warm_up
from backend.ingest.loaders import SUPPORTED_EXTENSIONS
from backend.models import GroundworkError
from components.corpus_common import show_flash
from components.corpus_upload import render_job
from components.navigation import page_context
from components.platform import get_platform

identity, ctx = page_context(__file__)

platform = get_platform()
settings = platform.settings
warm_up(platform)  # started by the server at start; this covers a platform without one (the models load meanwhile)
st.title("Upload documents")
st.caption("Drop files to index them: each is loaded, cleaned, checked for duplicates, chunked and embedded. "
           "A bad file gets its own message and never stops the others.")
show_flash()

job = st.session_state.get("upload_job")
running = job is not None and not job.finished
names = platform.corpus.collection_names(ctx)
if st.session_state.get("upload_select") in names:  # set before the widgets exist, as Streamlit requires
    st.session_state["upload_kind"] = "An existing collection"
    st.session_state["upload_existing"] = st.session_state.pop("upload_select")

with st.container(border=True):
    kinds = ["An existing collection", "A new collection"] if names else ["A new collection"]
    kind = st.radio("Into", kinds, horizontal=True, key="upload_kind", disabled=running)
    new = kind == "A new collection"
    if new:
        collection = st.text_input("New collection name", key="upload_new_name", disabled=running,
                                   placeholder="letters, digits, '-', '_' or '.'").strip()
        if collection in names:
            st.caption(f"**{collection}** exists already: the files will go into it.")
            new = False
    else:
        if st.session_state.get("upload_existing") not in names:
            st.session_state["upload_existing"] = (
                settings.default_collection if settings.default_collection in names else names[0])
        collection = st.selectbox("Collection", names, key="upload_existing", disabled=running)

    generation = st.session_state.setdefault("upload_generation", 0)  # a new key empties the uploader
    files = st.file_uploader(
        "Files", accept_multiple_files=True, key=f"upload_files_{generation}", disabled=running,
        max_upload_size=settings.upload_max_mb,
        help=f"Supported: {', '.join(sorted(SUPPORTED_EXTENSIONS))}. Other files are reported as unsupported.",
    ) or []
    effective = min(settings.upload_max_mb, settings.max_file_mb)
    st.caption(f"Ingest takes files up to {settings.max_file_mb:g} MB (GROUNDWORK_MAX_FILE_MB); the uploader "
               f"accepts up to {settings.upload_max_mb} MB (GROUNDWORK_UPLOAD_MAX_MB). A file uploaded under a name "
               "the collection already holds becomes a new version of that document.")
    too_big = [f for f in files if f.size > effective * 1024 * 1024]
    for f in too_big:
        st.warning(f"**{f.name}** is {f.size / 1024 / 1024:,.1f} MB, over the {effective:g} MB limit: it will be "
                   "reported as failed and not ingested.", icon=":material/warning:")
    ocr_modes = {"auto": "Scanned pages and images (auto)", "always": "Every PDF page", "off": "Never"}
    ocr = st.selectbox("Read text by OCR", list(ocr_modes), format_func=ocr_modes.__getitem__, key="upload_ocr",
                       index=list(ocr_modes).index(settings.ocr) if settings.ocr in ocr_modes else 0,
                       disabled=running, help="Tesseract reads PDF pages with no or too little text layer, and "
                       "images. 'Every PDF page' also re-reads pages that have text; 'Never' fails a scanned file.")
    label = f"Ingest {len(files)} file{'s' if len(files) != 1 else ''}" + (f" into {collection}" if collection else "")
    start = st.button(label, type="primary", icon=":material/upload:", key="upload_start",
                      disabled=running or not files or not collection)

if start:
    try:
        if new:  # in the uploader's own tenant, so it is theirs to read
            platform.corpus.create_collection(collection, tenant=identity.tenant, ctx=ctx)
        job = start_upload(platform, collection, [(f.name, f) for f in files], ctx=ctx, ocr=ocr)
    except GroundworkError as exc:
        st.error(str(exc))
    else:
        st.session_state["upload_job"] = job
        st.session_state["upload_generation"] = generation + 1
        st.session_state["upload_select"] = collection  # a new collection exists now: pick it next time
        st.rerun()

if job is not None:
    st.subheader(f"Upload into {job.collection}")
    render_job(job)
    if job.finished:
        st.page_link("pages/corpus_documents.py", label="Browse the documents", icon=":material/table_view:")

// milo_fast._core: the Python face of the codec. The only file that touches Python objects or raises
// Python exceptions; the codec itself (core/) is plain C++.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstring>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "array_layout.hpp"
#include "floatfmt.hpp"
#include "hardware_threads.hpp"
#include "json_reader.hpp"
#include "base64.hpp"
#include "json_writer.hpp"
#include "tree_check.hpp"

namespace py = pybind11;
using namespace milo;

namespace {

struct EncodeFail {
    std::string message;
};

// Cached Python objects, looked up once per call.
struct PyEnv {
    py::object np_ndarray, np_memmap, np_generic, np_asarray, dtype_spec, dtype_layout, spec_to_dtype;
    PyEnv() {
        py::module_ np = py::module_::import("numpy");
        np_ndarray = np.attr("ndarray");
        np_memmap = np.attr("memmap");
        np_generic = np.attr("generic");
        np_asarray = np.attr("asarray");
        py::module_ d = py::module_::import("milo_fast._dtypes");
        dtype_spec = d.attr("dtype_spec");
        dtype_layout = d.attr("layout");
        spec_to_dtype = d.attr("spec_to_dtype");
    }
};

PyEnv& env() {
    static PyEnv* e = new PyEnv();  // leaked on purpose: lives as long as the interpreter
    return *e;
}

struct PathElem {
    PyObject* key;   // borrowed str key, or nullptr for a list index
    Py_ssize_t index;
};

std::string format_path(const std::vector<PathElem>& path) {
    std::string out = "$";
    for (const auto& e : path) {
        if (!e.key) { out += "[" + std::to_string(e.index) + "]"; continue; }
        Py_ssize_t n; const char* s = PyUnicode_AsUTF8AndSize(e.key, &n);
        if (!s) { PyErr_Clear(); out += "[?]"; continue; }
        std::string k(s, n);
        bool ident = !k.empty();
        for (char c : k) ident &= (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-');
        if (ident) out += "." + k;
        else {
            out += "[\"";
            for (char c : k) { if (c == '"' || c == '\\') out.push_back('\\'); out.push_back(c); }
            out += "\"]";
        }
    }
    return out;
}

std::string type_name(PyObject* o) {
    PyTypeObject* t = Py_TYPE(o);
    py::object mod = py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(t)).attr("__module__");
    std::string m = py::str(mod);
    std::string q = py::str(py::reinterpret_borrow<py::object>(reinterpret_cast<PyObject*>(t)).attr("__qualname__"));
    return m == "builtins" ? q : m + "." + q;
}

struct DtypeInfo {
    py::object spec;  // str or dict (JSON-ready)
    Layout layout;
    bool ok = false;
};

// Python's recursion counter around one nested container; released on every exit, exceptions included.
struct RecursionGuard {
    explicit RecursionGuard(const std::vector<PathElem>& path) {
        if (Py_EnterRecursiveCall(" while encoding")) {
            PyErr_Clear();
            throw EncodeFail{"nesting too deep at " + format_path(path)};
        }
    }
    ~RecursionGuard() { Py_LeaveRecursiveCall(); }
    RecursionGuard(const RecursionGuard&) = delete;
    RecursionGuard& operator=(const RecursionGuard&) = delete;
};

// The encoder's output lives in the bytes object that encode() returns: the writer grows it (realloc,
// which remaps large blocks instead of copying them) and encode() shrinks it to size at the end, so the
// document is never copied. Resizing takes the GIL, since the array writer may run without it.
class BytesStorage final : public OutBuf::Storage {
public:
    BytesStorage() = default;
    BytesStorage(const BytesStorage&) = delete;
    BytesStorage& operator=(const BytesStorage&) = delete;
    ~BytesStorage() { Py_XDECREF(obj_); }

    static constexpr std::size_t kFreshFrom = std::size_t{4} << 20;

    char* resize(char*, std::size_t used, std::size_t cap) override {
        py::gil_scoped_acquire gil;
        if (!obj_) {
            obj_ = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(cap));
        } else if (cap >= kFreshFrom) {
            // A new block, advised for huge pages before the copy touches it (realloc would copy into 4 KiB
            // pages when it cannot remap: one page fault per 4 KiB, the larger cost on virtual machines).
            PyObject* fresh = PyBytes_FromStringAndSize(nullptr, static_cast<Py_ssize_t>(cap));
            if (fresh) {
                advise_huge_pages(PyBytes_AS_STRING(fresh), cap);
                std::memcpy(PyBytes_AS_STRING(fresh), PyBytes_AS_STRING(obj_), used);
            }
            Py_DECREF(obj_);
            obj_ = fresh;
        } else if (_PyBytes_Resize(&obj_, static_cast<Py_ssize_t>(cap)) < 0) {
            obj_ = nullptr;  // freed by _PyBytes_Resize
        }
        if (!obj_) { PyErr_Clear(); return nullptr; }
        char* p = PyBytes_AS_STRING(obj_);
        advise_huge_pages(p, cap);
        return p;
    }
    void release(char*) override {
        py::gil_scoped_acquire gil;
        Py_CLEAR(obj_);
    }

    // The bytes object, shrunk to the first n bytes; the storage lets go of it.
    py::bytes finish(std::size_t n) {
        if (!obj_) return py::bytes("", 0);
        if (_PyBytes_Resize(&obj_, static_cast<Py_ssize_t>(n)) < 0) { obj_ = nullptr; throw py::error_already_set(); }
        PyObject* o = obj_;
        obj_ = nullptr;
        return py::reinterpret_steal<py::bytes>(o);
    }

private:
    PyObject* obj_ = nullptr;
};

// Runs work() on `threads` threads (at least the calling thread, unless workers_only), then joins them. A thread
// the system will not start is left out: the others share the work (every work() takes jobs until none are left).
template <class Work>
void run_on_threads(int threads, bool workers_only, Work&& work) {
    std::vector<std::thread> pool;
    for (int t = workers_only ? 0 : 1; t < threads; ++t) {
        try {
            // (a caller that only waits leaves its last worker where the system puts it: see start_worker)
            pool.push_back(start_worker(work, !workers_only || t + 1 < threads));
        } catch (const std::system_error&) {
            break;
        }
    }
    if (!workers_only || pool.empty()) work();
    for (auto& th : pool) th.join();
}

class Encoder {
public:
    Encoder(bool b64, int indent, bool strict) : b64_(b64), indent_(indent), doc_indent_(indent), strict_(strict) {}
    ~Encoder() { stop_jobs(); }  // (before the jobs go: no worker writes after this)
    Encoder(const Encoder&) = delete;
    Encoder& operator=(const Encoder&) = delete;

    BytesStorage storage;  // declared before `out`, which releases into it
    OutBuf out{storage};

    void value(PyObject* o, int level) {
        if (o == Py_None) { out.append("null", 4); return; }
        if (o == Py_True) { out.append("true", 4); return; }
        if (o == Py_False) { out.append("false", 5); return; }
        PyTypeObject* t = Py_TYPE(o);
        if (t == &PyUnicode_Type) { str(o); return; }
        if (t == &PyLong_Type) { integer(o); return; }
        if (t == &PyFloat_Type) { pyfloat(PyFloat_AS_DOUBLE(o), level); return; }
        if (t == &PyDict_Type) { dict(o, level); return; }
        if (t == &PyList_Type || t == &PyTuple_Type) { list(o, level); return; }
        if (t == reinterpret_cast<PyTypeObject*>(env().np_ndarray.ptr()) ||
            t == reinterpret_cast<PyTypeObject*>(env().np_memmap.ptr())) { array(o, false, level); return; }
        if (PyObject_IsInstance(o, env().np_generic.ptr()) == 1) {
            py::object a = env().np_asarray(py::handle(o));
            array(a.ptr(), true, level);
            return;
        }
        PyErr_Clear();
        throw EncodeFail{"cannot encode a value of type " + type_name(o) + " at " + format_path(path_)};
    }

private:
    bool b64_;
    int indent_;
    const int doc_indent_;  // indent_ as asked for: what workers read (the walk sets indent_ to -1 for a while)
    bool strict_;
    std::vector<PathElem> path_;
    std::unordered_map<PyObject*, DtypeInfo> dtypes_;  // keyed by dtype object (kept alive by `keep_`)
    std::vector<py::object> keep_;
    std::map<std::pair<PyObject*, int>, std::string> dtype_text_;  // node-stable: jobs point into it

    // An array whose envelope is written at the end (result()), where the walk placed it (placed_).
    struct Deferred {
        py::object keep;  // the array, alive until written
        ArrayView view;
        const std::string* dtype_json = nullptr;
        bool scalar = false;
        int level = 0;
        bool placed = false;  // met by the walk (set during the walk; read by workers once walk_over_ is set)
        OutBuf text;
    };
    struct Placement {
        Deferred* job;
        std::size_t at;  // the offset of `out` where its text goes
    };
    std::vector<Placement> placed_;  // in document order (a job placed twice: the same array met twice)
    // Jobs queued by prepare() before the walk, by array object (kept alive by the job): the walk places them
    // where it meets them instead of queueing new ones. Under 2 ms of a forest save is the Python walk that makes
    // the document; its arrays are written meanwhile.
    std::unordered_map<PyObject*, Deferred*> prepared_;
    bool busy_ = false, spent_ = false;  // in encode(); done or closed (under the GIL)
    std::size_t reused_ = 0;             // placements of prepared jobs (tests)
    static constexpr uint64_t kDeferMinElems = 512;
    // Base64: an array of 16 KiB and more has its envelope written in the walk but its data's text left out, and
    // encoded at the end straight into the finished document (result_base64), on several threads for 4 MiB and more.
    static constexpr uint64_t kDeferMinBytes = 16384;
    static constexpr uint64_t kBase64ThreadsFrom = uint64_t{4} << 20;
    static constexpr uint64_t kThreadsFromElems = uint64_t{1} << 14;  // text: about 0.3 ms of formatting
    static constexpr uint64_t kWorkersOnlyFromElems = uint64_t{1} << 20;  // text: about 8 MB of it
    // text: a worker starts on the deferred arrays during the walk once they hold this many numbers (about 1.3 ms
    // of formatting; a forest's first eight trees). Below, the thread would cost about what it saves: a KNN's one
    // 20K-element array before its training values, whose saves then took 7 -> 8-11 ms in some processes.
    static constexpr uint64_t kEarlyFromElems = uint64_t{1} << 16;
    struct Base64Job {
        py::object keep;  // the array, alive until written
        Base64Parts parts;
    };
    std::vector<std::unique_ptr<Base64Job>> b64_jobs_;
    static constexpr uint64_t kWriterThreadedItems = uint64_t{1} << 17;  // json_writer threads from here on
    std::vector<std::unique_ptr<Deferred>> deferred_;  // appended under jobs_m_ while workers may write
    uint64_t deferred_elems_ = 0;  // the numbers the deferred arrays hold
    std::mutex jobs_m_;
    std::condition_variable jobs_cv_;   // a job deferred, or the walk over
    std::size_t jobs_taken_ = 0;        // deferred_[0, jobs_taken_) are taken by workers (under jobs_m_)
    bool walk_over_ = false, stop_ = false;  // (under jobs_m_)
    bool hold_ = false;                 // no job to be taken now: the walk writes a large array on every core
    std::atomic<bool> oom_{false};
    std::thread early_;                 // the worker started during the walk (joinable while it may run)

    void str(PyObject* o) {
        Py_ssize_t n;
        const char* s = PyUnicode_AsUTF8AndSize(o, &n);
        if (s) { write_json_string(out, s, static_cast<std::size_t>(n)); return; }
        PyErr_Clear();  // lone surrogates: carried as they are (as Python's json does)
        py::object b = py::reinterpret_steal<py::object>(PyUnicode_AsEncodedString(o, "utf-8", "surrogatepass"));
        if (!b) { PyErr_Clear(); throw EncodeFail{"cannot encode string at " + format_path(path_)}; }
        write_json_string(out, PyBytes_AS_STRING(b.ptr()), static_cast<std::size_t>(PyBytes_GET_SIZE(b.ptr())));
    }

    void integer(PyObject* o) {
        int overflow = 0;
        long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
        if (!overflow) { write_int64(out, v); return; }
        PyObject* s = PyObject_Str(o);  // beyond 64 bits: exact decimal digits
        if (!s) {  // e.g. more digits than sys.get_int_max_str_digits() allows
            PyErr_Clear();
            throw EncodeFail{"integer too large to write as decimal text (over sys.get_int_max_str_digits() digits) at " + format_path(path_)};
        }
        Py_ssize_t n;
        const char* d = PyUnicode_AsUTF8AndSize(s, &n);
        out.append(d, static_cast<std::size_t>(n));
        Py_DECREF(s);
    }

    void pyfloat(double d, int level) {
        uint64_t b; std::memcpy(&b, &d, 8);
        FloatClass c = classify64(b);
        if ((c == FloatClass::NaN && !is_canonical_nan64(b)) || (strict_ && c != FloatClass::Finite)) {
            // {"milo-float-bits": "<16 hex digits>"}: exact bits where text cannot carry them
            char hex[17];
            std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(b));
            out.push_back('{');
            write_newline(out, indent_, level + 1);
            out.append(indent_ >= 0 ? "\"milo-float-bits\": \"" : "\"milo-float-bits\":\"");
            out.append(hex, 16);
            out.push_back('"');
            write_newline(out, indent_, level);
            out.push_back('}');
            return;
        }
        write_double(out, d);
    }

    void dict(PyObject* o, int level) {
        RecursionGuard guard(path_);
        PyObject *k, *v;
        Py_ssize_t pos = 0;
        bool first = true;
        out.push_back('{');
        while (PyDict_Next(o, &pos, &k, &v)) {
            if (!PyUnicode_Check(k)) {
                py::str r(py::repr(py::handle(k)));
                throw EncodeFail{"dict key " + std::string(r) + " (" + type_name(k) + ") at " + format_path(path_) + " is not a str"};
            }
            if (!first) out.push_back(',');
            first = false;
            write_newline(out, indent_, level + 1);
            str(k);
            out.append(indent_ >= 0 ? ": " : ":");
            path_.push_back({k, 0});
            value(v, level + 1);
            path_.pop_back();
        }
        if (!first) write_newline(out, indent_, level);
        out.push_back('}');
    }

    void list(PyObject* o, int level) {
        RecursionGuard guard(path_);
        const bool is_list = PyList_Check(o);
        const Py_ssize_t n = is_list ? PyList_GET_SIZE(o) : PyTuple_GET_SIZE(o);
        out.push_back('[');
        for (Py_ssize_t i = 0; i < n; ++i) {
            if (i) out.push_back(',');
            write_newline(out, indent_, level + 1);
            path_.push_back({nullptr, i});
            value(is_list ? PyList_GET_ITEM(o, i) : PyTuple_GET_ITEM(o, i), level + 1);
            path_.pop_back();
        }
        if (n) write_newline(out, indent_, level);
        out.push_back(']');
    }

    const DtypeInfo& dtype_info(PyObject* dt) {
        auto it = dtypes_.find(dt);
        if (it != dtypes_.end()) return it->second;
        keep_.push_back(py::reinterpret_borrow<py::object>(dt));
        DtypeInfo info;
        info.spec = env().dtype_spec(py::handle(dt));
        if (!info.spec.is_none()) {
            py::tuple lay = env().dtype_layout(py::handle(dt));
            info.layout.itemsize = lay[0].cast<std::size_t>();
            py::list fields = lay[1];
            info.layout.structured = py::hasattr(py::handle(dt), "names") && !py::handle(dt).attr("names").is_none();
            for (auto f : fields) {
                py::tuple ft = f.cast<py::tuple>();
                Field fl;
                fl.offset = ft[0].cast<std::size_t>();
                fl.kind = static_cast<ElemKind>(ft[1].cast<int>());
                fl.big_endian = ft[2].cast<bool>();
                info.layout.fields.push_back(fl);
            }
            info.ok = true;
        }
        return dtypes_.emplace(dt, std::move(info)).first->second;
    }

    // The dtype's JSON text as written at level + 1, made once per dtype and level: on one line, indented or not
    // (as the shape beside it, and as the reference writer, _pycodec, writes it).
    const std::string& dtype_text(PyObject* dt, const DtypeInfo& info, int level) {
        auto it = dtype_text_.find({dt, level});
        if (it != dtype_text_.end()) return it->second;
        const std::size_t start = out.size();
        struct Compact {  // indent_ -1 while the spec is written, restored however that ends
            int& indent;
            const int saved;
            ~Compact() { indent = saved; }
        } compact{indent_, indent_};
        indent_ = -1;
        value(info.spec.ptr(), level + 1);
        std::string text(out.data() + start, out.size() - start);
        out.truncate(start);
        return dtype_text_.emplace(std::make_pair(dt, level), std::move(text)).first->second;
    }

    // Whether the text of an array of `items` items, `elems` numbers, is written by a job (deferred) rather than in
    // the walk: middle-sized arrays (a forest's node tables); large ones the writer splits across threads itself,
    // small ones are not worth a job. The walk and prepare() decide by this alone.
    static bool text_job(uint64_t items, uint64_t elems) {
        return elems >= kDeferMinElems && items < kWriterThreadedItems;
    }

    // The view of array `a` of dtype `info` in v; its number of items.
    static uint64_t view_of(const py::array& a, const DtypeInfo& info, ArrayView& v) {
        v.data = static_cast<const uint8_t*>(a.data());
        v.layout = info.layout;
        uint64_t items = 1;
        for (py::ssize_t d = 0; d < a.ndim(); ++d) {
            v.shape.push_back(a.shape(d));
            v.strides.push_back(a.strides(d));
            items *= static_cast<uint64_t>(a.shape(d));
        }
        return items;
    }

    void array(PyObject* o, bool scalar, int level) {
        py::array a = py::reinterpret_borrow<py::array>(o);
        PyObject* dt = reinterpret_cast<PyObject*>(PyArray_DESCR_compat(o));
        const DtypeInfo& info = dtype_info(dt);
        if (!info.ok) {
            throw EncodeFail{"cannot encode a numpy array of dtype " + std::string(py::str(py::handle(dt))) +
                             " at " + format_path(path_) + " (the codec carries bool, int8-64, uint8-64, float16-64 and structured dtypes of those)"};
        }
        ArrayView v;
        const uint64_t items = view_of(a, info, v);
        const std::string& dj = dtype_text(dt, info, level);
        const uint64_t elems = items * info.layout.fields.size();
        if (b64_ && items * info.layout.itemsize >= kDeferMinBytes) {
            b64_jobs_.push_back(std::make_unique<Base64Job>());
            Base64Job& job = *b64_jobs_.back();
            job.keep = py::reinterpret_borrow<py::object>(o);
            py::gil_scoped_release nogil;
            write_base64_envelope(out, v, dj.data(), dj.size(), scalar, indent_, level, &job.parts);
            return;
        }
        if (!b64_ && text_job(items, elems)) {  // written later, on several threads at once
            Deferred* job = nullptr;
            if (!scalar && !prepared_.empty()) {  // (a prepared array is the same object: the same view and text)
                auto it = prepared_.find(o);
                if (it != prepared_.end()) job = it->second;
            }
            if (job) ++reused_;
            else job = defer_job(o, std::move(v), dj, scalar, level, elems);
            job->placed = true;
            placed_.push_back({job, out.size()});
            return;
        }
        // An array the writer splits across threads itself: the early worker takes no job meanwhile (its job and
        // the writer's pieces would share the cores, and the writer waits for its slowest piece: KNN's 400K
        // training values took 7 -> 10 ms).
        HoldJobs hold(*this, !b64_ && items >= kWriterThreadedItems && early_.joinable());
        py::gil_scoped_release nogil;
        write_array_envelope(out, v, b64_, dj.data(), dj.size(), scalar, strict_, indent_, level);
    }

    // Queues the text job of an array for the workers (started early once the jobs hold kEarlyFromElems numbers).
    Deferred* defer_job(PyObject* o, ArrayView&& v, const std::string& dj, bool scalar, int level, uint64_t elems) {
        deferred_elems_ += elems;
        auto job = std::make_unique<Deferred>();
        job->keep = py::reinterpret_borrow<py::object>(o);
        job->view = std::move(v);
        job->dtype_json = &dj;
        job->scalar = scalar;
        job->level = level;
        Deferred* const j = job.get();
        {
            std::lock_guard<std::mutex> lk(jobs_m_);
            deferred_.push_back(std::move(job));
        }
        jobs_cv_.notify_one();
        if (!early_.joinable() && deferred_elems_ >= kEarlyFromElems && hardware_threads() > 1) {
            // a worker writes the jobs while the walk goes on (the rest join it once the walk is over)
            try {
                early_ = start_worker([this] { write_jobs(); });
            } catch (const std::system_error&) {
            }
        }
        return j;
    }

public:
    // Before the walk (text, no indent): the job of an array the walk will meet, queued now, so that workers write
    // its text while the caller is still making the document (transport's Encoder calls this for the arrays it
    // puts in the document as they are). Only arrays the walk would defer itself (text_job): an exact,
    // C-contiguous ndarray of a codec dtype. Its text does not depend on where the walk meets it: without indent, an envelope is the same at every level. True if
    // queued (now or before).
    bool prepare(py::handle obj) {
        PyObject* o = obj.ptr();
        if (b64_ || doc_indent_ >= 0 || busy_ || spent_ ||
            Py_TYPE(o) != reinterpret_cast<PyTypeObject*>(env().np_ndarray.ptr()))
            return false;
        if (prepared_.count(o)) return true;
        try {
            return prepare_array(o);
        } catch (const py::error_already_set&) {  // (a dtype the codec's helpers refuse: the walk words the error)
            return false;
        }
    }

    // Stops the workers and drops every job: the document will not be written (its making failed).
    void close() {
        stop_jobs();
        spent_ = true;
        placed_.clear();
        prepared_.clear();
        deferred_.clear();
    }

private:
    bool prepare_array(PyObject* o) {
        py::array a = py::reinterpret_borrow<py::array>(o);
        if (!(a.flags() & py::array::c_style)) return false;
        PyObject* dt = reinterpret_cast<PyObject*>(PyArray_DESCR_compat(o));
        if (!dt) { PyErr_Clear(); return false; }
        const DtypeInfo& info = dtype_info(dt);
        if (!info.ok) return false;  // (the walk words the error)
        ArrayView v;
        const uint64_t items = view_of(a, info, v);
        const uint64_t elems = items * info.layout.fields.size();
        if (!text_job(items, elems)) return false;
        const std::string& dj = dtype_text(dt, info, 0);  // (`out` is empty before the walk: its scratch)
        prepared_.emplace(o, defer_job(o, std::move(v), dj, false, 0, elems));
        return true;
    }

public:
    // The walk of `obj` and the document (encode()), once per encoder. On failure the workers stop at once.
    py::bytes run(PyObject* obj) {
        if (busy_ || spent_)
            throw py::value_error("this encoder has already written its document or was closed: make another "
                                  "(codec.text_encoder())");
        busy_ = true;
        struct Done {
            Encoder& e;
            ~Done() { e.busy_ = false; e.spent_ = true; }
        } done{*this};
        try {
            value(obj, 0);
            return result();
        } catch (...) {
            close();
            throw;
        }
    }

    std::size_t prepared_count() const { return prepared_.size(); }
    std::size_t reused() const { return reused_; }

    bool matches(bool b64, int indent, bool strict) const {
        return b64 == b64_ && indent == doc_indent_ && strict == strict_;
    }

    // Settings as codec.encode's arguments, for messages.
    static std::string settings(bool b64, int indent, bool strict) {
        return std::string("arrays=") + (b64 ? "'base64'" : "'text'") +
               ", indent=" + (indent < 0 ? std::string("None") : std::to_string(indent)) +
               ", strict=" + (strict ? "True" : "False");
    }
    std::string settings() const { return settings(b64_, doc_indent_, strict_); }

private:
    struct HoldJobs {
        Encoder& e;
        const bool on;
        HoldJobs(Encoder& enc, bool hold) : e(enc), on(hold) {
            if (!on) return;
            std::lock_guard<std::mutex> lk(e.jobs_m_);
            e.hold_ = true;
        }
        ~HoldJobs() {
            if (!on) return;
            {
                std::lock_guard<std::mutex> lk(e.jobs_m_);
                e.hold_ = false;
            }
            e.jobs_cv_.notify_all();
        }
        HoldJobs(const HoldJobs&) = delete;
        HoldJobs& operator=(const HoldJobs&) = delete;
    };

    // Writes deferred jobs' texts, in order, until none is left and the walk is over (or the encoder stops).
    void write_jobs() {
        try {
            for (;;) {
                Deferred* j;
                {
                    std::unique_lock<std::mutex> lk(jobs_m_);
                    jobs_cv_.wait(lk, [this] { return stop_ || (!hold_ && (jobs_taken_ < deferred_.size() || walk_over_)); });
                    if (stop_ || jobs_taken_ == deferred_.size()) return;
                    j = deferred_[jobs_taken_++].get();
                    if (walk_over_ && !j->placed) continue;  // prepared, but not in the document after all
                }
                if (oom_.load(std::memory_order_relaxed)) return;
                write_array_envelope(j->text, j->view, false, j->dtype_json->data(), j->dtype_json->size(), j->scalar,
                                     strict_, doc_indent_, j->level);
            }
        } catch (const std::bad_alloc&) {
            oom_ = true;
        }
    }

    // No more jobs come (the walk is over, or failed: `abandon` drops those not taken yet): workers leave once
    // the queue is empty.
    void end_walk(bool abandon) {
        {
            std::lock_guard<std::mutex> lk(jobs_m_);
            walk_over_ = true;
            stop_ = stop_ || abandon;
        }
        jobs_cv_.notify_all();
    }

    // end_walk, then joins the worker started during the walk.
    void stop_jobs(bool abandon = true) {
        end_walk(abandon);
        if (early_.joinable()) early_.join();
    }

    // The base64 document: the walk's text with each left-out array's text put in its place, made at its exact size
    // (the block the last document of that size left is then reused) and encoded straight into it, in pieces of
    // 1.5 MiB of data on several threads. No copy of the arrays' text, and no buffer of it but the document.
    py::bytes result_base64() {
        BytesStorage final_storage;
        OutBuf doc(final_storage);
        {
            py::gil_scoped_release nogil;
            const std::size_t n = b64_jobs_.size();
            std::vector<std::size_t> shift(n);  // how far job k's text, and the walk's text after it, move
            std::size_t add = 0;
            uint64_t bytes = 0;
            for (std::size_t k = 0; k < n; ++k) {
                shift[k] = add;
                add += base64_encoded_size(b64_jobs_[k]->parts.nbytes);
                bytes += b64_jobs_[k]->parts.nbytes;
            }
            const std::size_t total = out.size() + add;
            doc.reserve_exact(total);
            char* const dst = doc.cur();
            std::size_t prev = 0;
            for (std::size_t k = 0; k < n; ++k) {
                const std::size_t at = b64_jobs_[k]->parts.at;
                std::memcpy(dst + prev + shift[k], out.data() + prev, at - prev);
                prev = at;
            }
            std::memcpy(dst + prev + add, out.data() + prev, out.size() - prev);
            struct Piece { std::size_t job; uint64_t lo, hi; };
            constexpr uint64_t kPiece = uint64_t{3} << 19;  // a multiple of 3: whole groups of base64
            std::vector<Piece> pieces;
            for (std::size_t k = 0; k < n; ++k)
                for (uint64_t lo = 0; lo < b64_jobs_[k]->parts.nbytes; lo += kPiece)
                    pieces.push_back({k, lo, std::min(b64_jobs_[k]->parts.nbytes, lo + kPiece)});
            std::atomic<std::size_t> next{0};
            auto work = [&]() {
                for (std::size_t t; (t = next.fetch_add(1)) < pieces.size();) {
                    const Piece& pc = pieces[t];
                    const Base64Parts& parts = b64_jobs_[pc.job]->parts;
                    parts.write(dst + parts.at + shift[pc.job], pc.lo, pc.hi);
                }
            };
            const int threads = bytes < kBase64ThreadsFrom ? 1 : capped_threads(pieces.size());
            run_on_threads(threads, false, work);
            doc.advance(total);
        }
        b64_jobs_.clear();
        const std::size_t n = doc.size();
        doc.release();
        return final_storage.finish(n);
    }

    // Copies the pieces one after the other to dst (total bytes in all), on up to `threads` threads for a large
    // document: each copies one stretch of dst, from whichever pieces fall in it. (The one serial step after the
    // arrays are written: 18 MB for a 100-tree forest, about 3 ms on one core.)
    static void copy_pieces(char* dst, const std::vector<std::pair<const char*, std::size_t>>& pieces, std::size_t total,
                            int threads) {
        constexpr std::size_t kPerThread = std::size_t{4} << 20;
        const int t_n = static_cast<int>(std::max<std::size_t>(1, std::min<std::size_t>(static_cast<std::size_t>(threads), total / kPerThread)));
        auto stretch = [&](int t) {
            const std::size_t lo = total * static_cast<std::size_t>(t) / static_cast<std::size_t>(t_n);
            const std::size_t hi = total * static_cast<std::size_t>(t + 1) / static_cast<std::size_t>(t_n);
            std::size_t at = 0;
            for (const auto& pc : pieces) {
                const std::size_t a = std::max(at, lo), b = std::min(at + pc.second, hi);
                if (a < b) std::memcpy(dst + a, pc.first + (a - at), b - a);
                at += pc.second;
                if (at >= hi) break;
            }
        };
        std::atomic<int> next{0};
        run_on_threads(t_n, false, [&]() {
            for (int t; (t = next.fetch_add(1)) < t_n;) stretch(t);
        });
    }

public:
    // The document as bytes: the deferred arrays written on several threads, then the pieces joined in order.
    py::bytes result() {
        if (!b64_jobs_.empty()) return result_base64();
        if (placed_.empty()) {
            stop_jobs();  // (prepared jobs the walk did not meet: dropped)
            const std::size_t n = out.size();
            out.release();
            return storage.finish(n);
        }
        BytesStorage final_storage;
        OutBuf doc(final_storage);
        {
            py::gil_scoped_release nogil;
            const std::size_t n = deferred_.size();
            // under kThreadsFromElems numbers to write, threads cost more than they save
            const int threads = deferred_elems_ < kThreadsFromElems ? 1 : capped_threads(n);
            end_walk(false);
            // The worker started during the walk (if any) counts among the threads.
            const int started = early_.joinable() ? 1 : 0;
            // A large document's jobs each on a thread of its own, the calling thread waiting: the jobs' buffers
            // then come from the workers' malloc arenas, and the main arena keeps, whole, the block of the last
            // document of this size, which the one made below reuses (where the calling thread wrote jobs too,
            // their buffers were cut from that block, and the document met fresh pages: 2.4-2.7K page faults a
            // forest save, against 0.3-1K, and the same CPU on each core). A smaller one's, the calling thread
            // among them: a thread fewer to start.
            const bool workers_only = deferred_elems_ >= kWorkersOnlyFromElems;
            run_on_threads(std::max(0, threads - started), workers_only, [this] { write_jobs(); });
            stop_jobs(false);
            if (oom_) throw std::bad_alloc();
            // The pieces in document order: the encoder's own text between the arrays, and each array's text.
            std::vector<std::pair<const char*, std::size_t>> pieces;
            pieces.reserve(2 * placed_.size() + 1);
            std::size_t total = 0, prev = 0;
            for (const Placement& pl : placed_) {
                pieces.emplace_back(out.data() + prev, pl.at - prev);
                pieces.emplace_back(pl.job->text.data(), pl.job->text.size());
                total += pl.at - prev + pl.job->text.size();
                prev = pl.at;
            }
            pieces.emplace_back(out.data() + prev, out.size() - prev);
            total += out.size() - prev;
            doc.reserve_exact(total);  // (at its size: the block a previous document of this size left is reused)
            copy_pieces(doc.cur(), pieces, total, threads);
            doc.advance(total);
        }
        placed_.clear();
        prepared_.clear();
        deferred_.clear();
        const std::size_t n = doc.size();
        doc.release();
        return final_storage.finish(n);
    }

private:

    static PyObject* PyArray_DESCR_compat(PyObject* o) {
        // the dtype attribute, borrowed through the array object
        PyObject* dt = PyObject_GetAttrString(o, "dtype");
        Py_XDECREF(dt);  // the array keeps its descr alive
        return dt;
    }
};

// `prepared`: an Encoder made with the same settings whose prepare() was given some of obj's arrays (they are
// written already, or being written), or None.
py::bytes encode(py::handle obj, bool b64, int indent, bool strict, py::object prepared) {
    std::unique_ptr<Encoder> own;
    Encoder* e;
    if (prepared.is_none()) {
        own.reset(new Encoder(b64, indent, strict));
        e = own.get();
    } else {
        if (!py::isinstance<Encoder>(prepared)) throw py::type_error("encoder: expected a codec.text_encoder()");
        e = prepared.cast<Encoder*>();
        if (!e->matches(b64, indent, strict))
            throw py::value_error("the encoder was made with other settings: " + e->settings() + ", not " +
                                  Encoder::settings(b64, indent, strict));
    }
    try {
        return e->run(obj.ptr());
    } catch (const EncodeFail& f) {
        py::object cls = py::module_::import("milo_fast.errors").attr("EncodeError");
        PyErr_SetString(cls.ptr(), f.message.c_str());
        throw py::error_already_set();
    }
}

// ------------------------------------------------------------------ decode

// The DecodeError for a failure at byte `offset` (+ base) of text: message with the JSON path, line and column.
py::object decode_error(const char* text, std::size_t len, uint64_t offset, const std::string& msg, uint64_t base = 0) {
    uint64_t abs = base + offset;
    std::string path = json_path_at(text, len, abs);
    uint64_t line, col;
    line_col(text, len, abs, line, col);
    std::string full = msg + " at " + path + " (byte " + std::to_string(abs) + ", line " + std::to_string(line) +
                       ", column " + std::to_string(col) + ")";
    py::object cls = py::module_::import("milo_fast.errors").attr("DecodeError");
    // The path can quote bytes of a malformed key: make the texts valid Python strings whatever they hold.
    auto pystr = [](const std::string& s) {
        return py::reinterpret_steal<py::object>(PyUnicode_DecodeUTF8(s.data(), static_cast<Py_ssize_t>(s.size()), "backslashreplace"));
    };
    return cls(pystr(full), py::arg("offset") = abs, py::arg("path") = pystr(path));
}

[[noreturn]] void raise_error(const py::object& exc) {
    PyErr_SetObject(reinterpret_cast<PyObject*>(Py_TYPE(exc.ptr())), exc.ptr());
    throw py::error_already_set();
}

[[noreturn]] void raise_decode(const char* text, std::size_t len, uint64_t offset, const std::string& msg, uint64_t base = 0) {
    raise_error(decode_error(text, len, offset, msg, base));
}

// A deferred decode (decode_deferred): where each array not delivered yet sits in the built tree.
// The memory of an array built before its data is converted (deferred build): the numpy array's base. The
// job keeps owning the buffer (workers write into it) until the array is delivered; then `data` takes it.
struct DeferredBuffer {
    uint8_t* data = nullptr;
};

struct ArraySlot {
    py::object container;  // the dict or list holding the placeholder
    py::object key;        // its key (dict), or
    Py_ssize_t index = 0;  // its index (list)
    py::object placeholder;
    py::object array;      // the numpy array over the job's buffer (0-d for a scalar), made with the tree
    DeferredBuffer* owner = nullptr;  // its base's buffer slot (alive while `array` is)
    bool scalar = false;
};

// Stand-in for an array still being converted: what the document walk needs to charge limits (size, nbytes),
// and nothing that reads the data.
struct PendingArray {
    std::size_t index = 0;
    uint64_t size = 0, nbytes = 0;
};

// What a build collects for the audit (Builder::collect): the value of every dict key among `keys` (every
// occurrence, in document order), and the total elements and bytes of the arrays and scalars made.
struct Scan {
    std::vector<std::string> keys;
    py::list names;
    uint64_t elements = 0, nbytes = 0;
    py::tuple result() const { return py::make_tuple(names, elements, nbytes); }
};

class Builder {
public:
    Builder(const char* full, std::size_t full_len, uint64_t base, Document& doc, const Limits& limits, int threads)
        : full_(full), full_len_(full_len), base_(base), doc_(doc), limits_(limits), threads_(threads) {}

    // Deferred build: every array becomes a PendingArray recorded in `slots` (one per array, by index), and
    // `need` maps id(container) -> n for each dict or list whose own arrays are all among arrays [0, n):
    // its own arrays are those in it and in the containers under it, except under a transporter node (a dict
    // with a "milo:" key other than "milo:id"), which has its own entry.
    void defer(std::vector<ArraySlot>* slots, py::dict* need) {
        slots_ = slots;
        need_ = need;
        slots_->assign(doc_.arrays.size(), ArraySlot{});
    }

    // While building, fill `scan` (what the audit's walk of the tree would collect: see decode_deferred); raw
    // sub-documents report to the same place. nullptr stops collecting.
    void collect(Scan* scan) { scan_ = scan; }

    py::object build(uint32_t i) {
        const Node& n = doc_.nodes[i];
        switch (n.type) {
            case NodeType::Null: return py::none();
            case NodeType::True: return py::bool_(true);
            case NodeType::False: return py::bool_(false);
            case NodeType::Int: return py::reinterpret_steal<py::object>(PyLong_FromLongLong(static_cast<long long>(n.a)));
            case NodeType::BigInt: {
                std::string digits(full_ + base_ + n.a, n.len);
                PyObject* r = PyLong_FromString(digits.c_str(), nullptr, 10);
                if (!r) { PyErr_Clear(); raise_decode(full_, full_len_, n.src, "integer literal too long to read (over sys.get_int_max_str_digits() digits)", base_); }
                return py::reinterpret_steal<py::object>(r);
            }
            case NodeType::Float: { double d; std::memcpy(&d, &n.a, 8); return py::float_(d); }
            case NodeType::String: return n.len <= kShared ? shared_string(n) : string(n);
            case NodeType::List: {
                py::list l(n.len);
                const std::size_t outer = own_;
                own_ = 0;
                for (uint32_t k = 0; k < n.len; ++k) {
                    const uint32_t c = doc_.children[n.a + k];
                    py::object v = build(c);
                    if (slots_ && doc_.nodes[c].type == NodeType::Array) place(doc_.nodes[c].a, l, py::object(), k, v);
                    PyList_SET_ITEM(l.ptr(), k, v.release().ptr());
                }
                close_container(l, outer, false);
                return std::move(l);
            }
            case NodeType::Object: return object(n);
            case NodeType::Array: {
                ArrayJob& j = doc_.arrays[n.a];
                if (scan_) {
                    scan_->elements += j.count;
                    scan_->nbytes += j.count * j.layout.itemsize;
                }
                return slots_ && !j.ready ? pending(j, n.a) : array(j);  // (ready: converted in phase 1)
            }
            case NodeType::RawList: return raw(n);
        }
        return py::none();
    }

    py::object array(ArrayJob& j) {
        py::dtype dt = py::reinterpret_borrow<py::dtype>(dtype_of(j));
        std::vector<py::ssize_t> shape(j.shape.begin(), j.shape.end());
        std::vector<py::ssize_t> strides(shape.size());
        py::ssize_t s = static_cast<py::ssize_t>(j.layout.itemsize);
        for (std::size_t d = shape.size(); d-- > 0;) { strides[d] = s; s *= shape[d]; }
        uint8_t* raw = j.data.release();
        py::capsule owner(raw, [](void* p) { delete[] static_cast<uint8_t*>(p); });
        py::array a(dt, shape, strides, raw, owner);
        if (j.scalar) return a[py::tuple()];
        return std::move(a);
    }

    // Deferred build: the array over a buffer workers may still be writing, made now so that a dtype or shape
    // numpy refuses is reported where the whole decode reports it. Its base owns nothing until deliver().
    void wrap_pending(ArrayJob& j, ArraySlot& slot) {
        py::dtype dt = py::reinterpret_borrow<py::dtype>(dtype_of(j));
        std::vector<py::ssize_t> shape(j.shape.begin(), j.shape.end());
        std::vector<py::ssize_t> strides(shape.size());
        py::ssize_t s = static_cast<py::ssize_t>(j.layout.itemsize);
        for (std::size_t d = shape.size(); d-- > 0;) { strides[d] = s; s *= shape[d]; }
        auto* buf = new DeferredBuffer;
        py::capsule owner(buf, [](void* p) {
            auto* b = static_cast<DeferredBuffer*>(p);
            delete[] b->data;
            delete b;
        });
        slot.array = py::array(dt, shape, strides, j.data.get(), owner);  // (the pointer is read, not taken)
        slot.owner = buf;
        slot.scalar = j.scalar;
    }

    // A converted array (wait_through has reported it): its base takes the buffer from the job.
    static py::object deliver(ArrayJob& j, ArraySlot& slot) {
        slot.owner->data = j.data.release();
        py::object a = slot.scalar ? py::object(slot.array[py::tuple()]) : slot.array;
        slot.array = py::object();
        slot.owner = nullptr;
        return a;
    }

private:
    const char* full_;
    std::size_t full_len_;
    uint64_t base_;
    Document& doc_;
    const Limits& limits_;
    int threads_;
    std::unordered_map<std::string, py::object> dtype_cache_;
    std::vector<ArraySlot>* slots_ = nullptr;  // deferred build (defer())
    py::dict* need_ = nullptr;
    std::size_t own_ = 0;  // deferred build: arrays [0, own_) hold the current container's own arrays
    Scan* scan_ = nullptr;  // collect()

    bool is_name_key(const Node& k) const {
        if (k.type != NodeType::String) return false;
        for (const std::string& nk : scan_->keys)
            if (k.len == nk.size() && std::memcmp(doc_.strings.data() + k.a, nk.data(), nk.size()) == 0) return true;
        return false;
    }

    py::object pending(ArrayJob& j, uint64_t index) {
        wrap_pending(j, (*slots_)[static_cast<std::size_t>(index)]);
        PendingArray p;
        p.index = static_cast<std::size_t>(index);
        p.size = j.count;
        p.nbytes = j.count * j.layout.itemsize;
        own_ = std::max<std::size_t>(own_, p.index + 1);
        return py::cast(p);
    }

    void place(uint64_t index, const py::object& container, const py::object& key, Py_ssize_t i, const py::object& v) {
        if (doc_.arrays[index].ready) return;  // not pending: built whole
        ArraySlot& s = (*slots_)[static_cast<std::size_t>(index)];  // (its array was made by pending())
        s.container = container;
        s.key = key;
        s.index = i;
        s.placeholder = v;
    }

    // End of a container in a deferred build: record its own arrays, and pass them on to the enclosing container
    // unless this one is a transporter node.
    void close_container(const py::object& c, std::size_t outer, bool transporter) {
        if (!slots_) return;
        if (own_) (*need_)[py::int_(reinterpret_cast<uintptr_t>(c.ptr()))] = py::int_(own_);
        own_ = transporter ? outer : std::max(outer, own_);
    }

    bool is_transporter_key(const Node& k) const {
        return k.type == NodeType::String && k.len >= 5 && std::memcmp(doc_.strings.data() + k.a, "milo:", 5) == 0 &&
               !(k.len == 7 && std::memcmp(doc_.strings.data() + k.a, "milo:id", 7) == 0);
    }

    // Short strings (keys, and values such as "gini") are made once per build and interned: a forest repeats
    // the same thirty keys in each of its trees, and the dict lookups that the transporters make with their
    // own (interned) literals then find them by identity.
    static constexpr uint32_t kShared = 40;
    std::unordered_map<std::string_view, py::object> shared_;

    py::object shared_string(const Node& n) {
        const std::string_view text(doc_.strings.data() + n.a, n.len);  // (the arena does not change while building)
        auto it = shared_.find(text);
        if (it != shared_.end()) return it->second;
        py::object s = string(n);
        PyObject* p = s.release().ptr();
        PyUnicode_InternInPlace(&p);
        return shared_.emplace(text, py::reinterpret_steal<py::object>(p)).first->second;
    }

    py::object string(const Node& n) {
        PyObject* s = PyUnicode_DecodeUTF8(doc_.strings.data() + n.a, n.len, "surrogatepass");
        if (!s) {
            // Point at the offending byte: exact when the source string has no escapes (then the arena
            // holds the same bytes), else at the string's start.
            uint64_t at = n.src;
            py::error_already_set e;
            if (e.matches(PyExc_UnicodeDecodeError)) {
                Py_ssize_t start = 0;
                if (PyUnicodeDecodeError_GetStart(e.value().ptr(), &start) == 0) {
                    const char* src = full_ + base_ + n.src + 1;
                    const std::size_t avail = full_len_ - (base_ + n.src + 1);
                    if (avail >= n.len && std::memcmp(src, doc_.strings.data() + n.a, n.len) == 0)
                        at = n.src + 1 + static_cast<uint64_t>(start);
                }
            }
            raise_decode(full_, full_len_, at, "invalid UTF-8 in a string", base_);
        }
        return py::reinterpret_steal<py::object>(s);
    }

    py::object object(const Node& n) {
        if (n.len == 1) {
            const Node& k = doc_.nodes[doc_.children[n.a]];
            if (k.len == 15 && std::memcmp(doc_.strings.data() + k.a, "milo-float-bits", 15) == 0) {
                const Node& v = doc_.nodes[doc_.children[n.a + 1]];
                uint64_t bits = 0;
                bool ok = v.type == NodeType::String && v.len == 16;
                for (uint32_t i = 0; ok && i < 16; ++i) {
                    char c = doc_.strings[v.a + i];
                    int h = (c >= '0' && c <= '9') ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : -1;
                    if (h < 0) ok = false; else bits = bits * 16 + static_cast<uint64_t>(h);
                }
                if (!ok) raise_decode(full_, full_len_, v.src, "\"milo-float-bits\" must be 16 lowercase hex digits", base_);
                double d; std::memcpy(&d, &bits, 8);
                return py::float_(d);
            }
        }
        py::dict d;
        const std::size_t outer = own_;
        own_ = 0;
        bool transporter = false;
        for (uint32_t k = 0; k < n.len; ++k) {
            const uint32_t kn = doc_.children[n.a + 2 * k], vn = doc_.children[n.a + 2 * k + 1];
            py::object key = build(kn);
            py::object val = build(vn);
            if (slots_) {
                transporter |= is_transporter_key(doc_.nodes[kn]);
                if (doc_.nodes[vn].type == NodeType::Array) place(doc_.nodes[vn].a, d, key, 0, val);
            }
            if (scan_ && is_name_key(doc_.nodes[kn]) && PyList_Append(scan_->names.ptr(), val.ptr()) < 0)
                throw py::error_already_set();
            if (PyDict_SetItem(d.ptr(), key.ptr(), val.ptr()) < 0) throw py::error_already_set();
        }
        close_container(d, outer, transporter);
        return std::move(d);
    }

    py::object dtype_of(const ArrayJob& j) {
        const Node& dn = doc_.nodes[j.dtype_node];
        // Cache key: the simple spelling, or for a structured dtype its validated layout plus field names.
        std::string cache_key;
        if (dn.type == NodeType::String) {
            cache_key.push_back('s');
            cache_key.append(doc_.strings.data() + dn.a, dn.len);
        } else {
            // (fixed-width binary fields, so that no two layouts or name lists give the same key; a simple
            // spelling's key starts with 's', a structured one's with '\0')
            auto put = [&cache_key](uint64_t v) { cache_key.append(reinterpret_cast<const char*>(&v), sizeof v); };
            cache_key.reserve(16 + 24 * j.layout.fields.size() + 64);
            cache_key.push_back('\0');
            put(j.layout.itemsize);
            put(j.layout.fields.size());
            for (const Field& f : j.layout.fields) {
                put(f.offset);
                put((static_cast<uint64_t>(f.kind) << 1) | (f.big_endian ? 1u : 0u));
            }
            for (uint32_t i = 0; i < dn.len; ++i) {
                const Node& k = doc_.nodes[doc_.children[dn.a + 2 * i]];
                if (k.len == 5 && std::memcmp(doc_.strings.data() + k.a, "names", 5) == 0) {
                    const Node& names = doc_.nodes[doc_.children[dn.a + 2 * i + 1]];
                    put(names.len);
                    for (uint32_t n = 0; n < names.len; ++n) {
                        const Node& nm = doc_.nodes[doc_.children[names.a + n]];
                        put(nm.len);
                        cache_key.append(doc_.strings.data() + nm.a, nm.len);
                    }
                }
            }
        }
        {
            auto it = dtype_cache_.find(cache_key);
            if (it != dtype_cache_.end()) return it->second;
        }
        py::object spec = build(j.dtype_node);
        py::object dt;
        try {
            dt = env().spec_to_dtype(spec);
        } catch (py::error_already_set& e) {
            if (!e.matches(PyExc_ValueError)) throw;
            std::string m = py::str(e.value());
            raise_decode(full_, full_len_, dn.src, "bad dtype: " + m, base_);
        }
        if (dt.is_none()) raise_decode(full_, full_len_, dn.src, "unsupported dtype", base_);
        if (dt.attr("itemsize").cast<std::size_t>() != j.layout.itemsize)
            raise_decode(full_, full_len_, dn.src, "dtype item size disagrees with its fields", base_);
        dtype_cache_.emplace(cache_key, dt);
        return dt;
    }

    py::object raw(const Node& n) {
        // The list of an envelope whose dtype the codec does not carry: ordinary JSON.
        Document sub;
        const char* text = full_ + base_ + n.a;
        ParseError e;
        {
            py::gil_scoped_release nogil;
            e = parse_and_decode(text, n.len, limits_, sub, threads_);
        }
        if (!e.ok) raise_decode(full_, full_len_, e.offset, e.message, base_ + n.a);
        Builder b(full_, full_len_, base_ + n.a, sub, limits_, threads_);
        b.collect(scan_);
        return b.build(sub.root);
    }
};

py::object decode_collecting(py::buffer data, int max_depth, int threads, Scan* scan) {
    py::buffer_info info = data.request();
    if (info.ndim > 1 || (info.ndim == 1 && info.strides[0] != info.itemsize))
        throw py::type_error("decode() needs a contiguous bytes-like object");
    const char* text = static_cast<const char*>(info.ptr);
    const std::size_t len = static_cast<std::size_t>(info.size * info.itemsize);
    Limits limits;
    limits.max_depth = max_depth > 0 ? max_depth : 512;
    Document doc;
    ParseError e;
    {
        py::gil_scoped_release nogil;
        e = parse_and_decode(text, len, limits, doc, threads);
    }
    if (!e.ok) raise_decode(text, len, e.offset, e.message);
    Builder b(text, len, 0, doc, limits, threads);
    b.collect(scan);
    // The objects built are new and acyclic: a collection triggered by their allocation would only walk
    // them (about 10% of building a forest's document). Collection resumes afterwards, as it was.
    struct GcPause {
        int was = PyGC_Disable();
        ~GcPause() { if (was) PyGC_Enable(); }
    } pause;
    return b.build(doc.root);
}

py::object decode(py::buffer data, int max_depth, int threads) { return decode_collecting(data, max_depth, threads, nullptr); }

// After-conversion hook of a deferred decode (worker thread, no Python): a 1-d array laid out as sklearn's
// NODE_DTYPE (the int64 left_child, right_child and feature at 0, 8, 16 of 64-byte records) gets its structure
// checked while it is still in cache: note = {depth, largest split feature} if sound with n_features open, else
// nothing (the loader then runs check_tree, which words the problem). The loader uses the note only for an
// array whose dtype is NODE_DTYPE, whose feature bound it then compares itself.
void note_tree_table(ArrayJob& j) {
    const std::vector<Field>& f = j.layout.fields;
    if (j.shape.size() != 1 || !j.layout.structured || j.layout.itemsize != kSkNodeItemsize || f.size() != 8) return;
    const std::size_t want[3] = {kSkNodeLeftOffset, kSkNodeRightOffset, kSkNodeFeatureOffset};
    for (int k = 0; k < 3; ++k)
        if (f[k].offset != want[k] || f[k].kind != ElemKind::I64 || f[k].big_endian) return;
    int64_t depth = 0, max_feature = 0;
    if (sklearn_tree_shape(sklearn_tree_records(j.data.get(), j.count), depth, max_feature)) {
        j.note[0] = depth;
        j.note[1] = max_feature;
    }
}

// A decode whose arrays are still being converted (decode_deferred): owns the text, the document and the
// worker threads; fill(n) waits for arrays [0, n) and puts each in place of its placeholder.
class Deferred {
public:
    Deferred(py::bytes data, int max_depth) : source_(std::move(data)) {
        text_ = PyBytes_AS_STRING(source_.ptr());
        len_ = static_cast<std::size_t>(PyBytes_GET_SIZE(source_.ptr()));
        limits_.max_depth = max_depth > 0 ? max_depth : 512;
    }
    ~Deferred() { async_.abort(); }  // before the document and the text go: no worker writes after this

    // Phase 1, then the tree with placeholders; (tree, self) or (tree, None) when nothing is left to convert.
    // `scan`, if given, collects what the build meets (Builder::collect); the caller keeps it.
    static py::tuple start(py::bytes data, int max_depth, int threads, bool lazy, Scan* scan) {
        std::unique_ptr<Deferred> d(new Deferred(std::move(data), max_depth));
        ParseError e;
        {
            py::gil_scoped_release nogil;
            e = d->async_.start(d->text_, d->len_, d->limits_, d->doc_, threads, note_tree_table, lazy);
        }
        if (!e.ok) raise_decode(d->text_, d->len_, e.offset, e.message);
        d->builder_.reset(new Builder(d->text_, d->len_, 0, d->doc_, d->limits_, threads));
        d->builder_->collect(scan);
        const bool defer = !d->doc_.arrays.empty() && d->doc_.nodes[d->doc_.root].type != NodeType::Array;
        if (!defer) {  // nothing to wait for while building (or an array alone): the plain decode
            d->finish_or_raise();
            return py::make_tuple(d->build(), py::none());
        }
        d->builder_->defer(&d->slots_, &d->need_);
        py::object tree;
        try {
            tree = d->build();
        } catch (py::error_already_set&) {
            py::object err = d->error();  // an array's error comes first, as in the plain decode
            if (!err.is_none()) raise_error(err);
            throw;
        }
        d->builder_->collect(nullptr);  // (the caller's scan is complete)
        py::object self = py::cast(d.release(), py::return_value_policy::take_ownership);
        return py::make_tuple(tree, self);
    }

    // Arrays [0, n) converted and in place of their placeholders; DecodeError if any array failed.
    void fill(std::size_t n) {
        n = std::min(n, slots_.size());
        if (n <= filled_) return;
        if (!failure_.is_none()) raise_error(failure_);
        bool ok = true;
        if (async_.running()) {  // (else error() has waited for every array, and none failed)
            py::gil_scoped_release nogil;
            ok = async_.wait_through(n);
        }
        if (!ok) {
            failure_ = error();
            if (failure_.is_none()) throw std::logic_error("deferred decode: a wait failed but no array did");
            raise_error(failure_);
        }
        for (; filled_ < n; ++filled_) {
            ArraySlot& s = slots_[filled_];
            ArrayJob& j = doc_.arrays[filled_];
            if (j.ready) continue;  // built whole (converted in phase 1)
            py::object a = Builder::deliver(j, s);
            if (j.note[0] >= 0)  // a node table checked on the worker: (array, depth, largest split feature)
                notes_[py::int_(reinterpret_cast<uintptr_t>(a.ptr()))] = py::make_tuple(a, j.note[0], j.note[1]);
            if (s.container) {
                PyObject* c = s.container.ptr();
                if (PyList_Check(c)) {  // still where it was put: replace it (else it was removed or moved)
                    if (s.index < PyList_GET_SIZE(c) && PyList_GET_ITEM(c, s.index) == s.placeholder.ptr()) {
                        if (PyList_SetItem(c, s.index, a.inc_ref().ptr()) < 0) throw py::error_already_set();
                    }
                } else {
                    PyObject* cur = PyDict_GetItemWithError(c, s.key.ptr());
                    if (!cur && PyErr_Occurred()) throw py::error_already_set();
                    if (cur == s.placeholder.ptr() && PyDict_SetItem(c, s.key.ptr(), a.ptr()) < 0)
                        throw py::error_already_set();
                }
            }
            s.container = py::object();
            s.key = py::object();
        }
    }

    // Every array in place; then no placeholder may be held anywhere else (a copy made before its fill would
    // keep it in the model): MiloError if one is.
    void fill_all() {
        fill(slots_.size());
        finish_or_raise();  // (every array is converted: only joins the workers)
        for (const ArraySlot& s : slots_) {
            if (s.placeholder && Py_REFCNT(s.placeholder.ptr()) > 1) {
                py::object cls = py::module_::import("milo_fast.errors").attr("DeferredArrayEscaped");
                raise_error(cls("a deferred array's placeholder is still referenced after the build (array " +
                                std::to_string(&s - slots_.data()) + ")"));
            }
        }
        for (ArraySlot& s : slots_) s.placeholder = py::object();
    }

    // Waits for every array: the DecodeError of the first that failed, or None.
    py::object error() {
        if (!failure_.is_none()) return failure_;
        ParseError e;
        {
            py::gil_scoped_release nogil;
            e = async_.finish();
        }
        if (e.ok) return py::none();
        failure_ = decode_error(text_, len_, e.offset, e.message);
        return failure_;
    }

    std::size_t filled() const { return filled_; }
    std::size_t count() const { return slots_.size(); }
    py::dict need() const { return need_; }
    py::dict notes() const { return notes_; }

private:
    py::bytes source_;  // the text the workers read
    const char* text_ = nullptr;
    std::size_t len_ = 0;
    Limits limits_;
    Document doc_;
    std::unique_ptr<Builder> builder_;
    std::vector<ArraySlot> slots_;
    py::dict need_;
    py::dict notes_;  // id(array) -> (array, depth, largest split feature): node tables checked on a worker
    std::size_t filled_ = 0;
    py::object failure_ = py::none();
    AsyncDecode async_;  // last: destroyed (joined) first

    void finish_or_raise() {
        ParseError e;
        {
            py::gil_scoped_release nogil;
            e = async_.finish();
        }
        if (!e.ok) raise_decode(text_, len_, e.offset, e.message);
    }

    py::object build() {
        struct GcPause {  // as in decode()
            int was = PyGC_Disable();
            ~GcPause() { if (was) PyGC_Enable(); }
        } pause;
        return builder_->build(doc_.root);
    }
};

// decode(), but returning (tree, deferred) as soon as phase 1 is done: the tree holds a placeholder
// (PendingArray) for every array, which deferred.fill(n) replaces (see the Python Decoder). Documents small
// enough for one thread (threads 0: under 1 MiB) or without arrays come back whole: (tree, None).
// With name_keys (a tuple of str, possibly empty): (tree, deferred, scan), where scan = (the value of every
// name key met in any dict of the document, in document order; the arrays' total elements; their total bytes),
// collected by the build for the audit (transport.from_tree), deferred or not.
py::tuple decode_deferred(py::bytes data, int max_depth, int threads, py::object name_keys) {
    std::unique_ptr<Scan> scan;
    if (!name_keys.is_none()) {
        scan.reset(new Scan);
        for (py::handle k : name_keys.cast<py::tuple>()) scan->keys.push_back(k.cast<std::string>());
    }
    const DecodeThreads dt = decode_threads(threads, static_cast<std::size_t>(PyBytes_GET_SIZE(data.ptr())));
    py::tuple r = dt.threads <= 1 ? py::make_tuple(decode_collecting(data, max_depth, 1, scan.get()), py::none())
                                  : Deferred::start(std::move(data), max_depth, dt.threads, dt.lazy, scan.get());
    if (!scan) return r;
    return py::make_tuple(r[0], r[1], scan->result());
}

// Field offset of a structured array's field, checking its kind and width.
IntColumn int_column(const py::array& a, const char* name, char kind, int width) {
    py::object fields = a.dtype().attr("fields");
    if (fields.is_none() || !fields.contains(name)) throw py::value_error(std::string("node table has no field '") + name + "'");
    py::tuple f = fields[name];
    py::dtype fdt = f[0].cast<py::dtype>();
    if (fdt.kind() != kind || fdt.itemsize() != width || fdt.byteorder() == '>')
        throw py::value_error(std::string("node table field '") + name + "' has dtype " + std::string(py::str(fdt)));
    IntColumn c;
    c.ptr = static_cast<const uint8_t*>(a.data()) + f[1].cast<std::size_t>();
    c.stride = a.ndim() == 1 ? a.strides(0) : 0;
    c.width = static_cast<uint8_t>(width);
    c.is_signed = kind == 'i';
    return c;
}

py::object problem(const TreeProblem& p) {
    if (p.ok) return py::none();
    return py::make_tuple(p.node, p.what);
}

// The byte offsets of the three shape fields in the last sklearn node-table dtype seen, by identity: a
// forest's tables share one dtype object (the decoder makes one per document), so the field lookups run
// once per load rather than once per tree. A dtype's field names can be reassigned in place (which gives
// it a new `names` tuple), so the names tuple is part of the key.
struct SkLayout {
    py::object dtype, names;  // strong references: their addresses are not reused while cached
    std::size_t left = 0, right = 0, feature = 0;
};

const SkLayout& sk_layout(const py::array& nodes) {
    static SkLayout* cache = new SkLayout;  // never freed (no teardown order issue); touched with the GIL held
    py::handle dt(reinterpret_cast<PyObject*>(py::detail::array_proxy(nodes.ptr())->descr));
    py::object names = dt.attr("names");
    if (!cache->dtype.is(dt) || !cache->names.is(names)) {
        const auto* base = static_cast<const uint8_t*>(nodes.data());
        SkLayout fresh;  // int_column raises for a missing field or another dtype, before the cache changes
        fresh.left = static_cast<std::size_t>(int_column(nodes, "left_child", 'i', 8).ptr - base);
        fresh.right = static_cast<std::size_t>(int_column(nodes, "right_child", 'i', 8).ptr - base);
        fresh.feature = static_cast<std::size_t>(int_column(nodes, "feature", 'i', 8).ptr - base);
        fresh.dtype = py::reinterpret_borrow<py::object>(dt);
        fresh.names = std::move(names);
        *cache = std::move(fresh);
    }
    return *cache;
}

// sklearn Tree: the table's depth (sklearn's max_depth: the deepest node's depth, the root at 0) if the
// table is sound, else (node, reason).
py::object check_tree(py::array nodes, int64_t n_nodes, int64_t n_features, int64_t values_rows) {
    if (nodes.ndim() != 1) throw py::value_error("node table must be 1-d");
    if (n_nodes < 0 || n_nodes > nodes.shape(0)) throw py::value_error("node_count outside the node table");
    const SkLayout& lay = sk_layout(nodes);
    const auto* base = static_cast<const uint8_t*>(nodes.data());
    const std::ptrdiff_t stride = nodes.strides(0);
    SkTreeNodes t;
    t.n_nodes = static_cast<std::size_t>(n_nodes);
    t.left = IntColumn{base + lay.left, stride, 8, true};
    t.right = IntColumn{base + lay.right, stride, 8, true};
    t.feature = IntColumn{base + lay.feature, stride, 8, true};
    TreeProblem p;
    {
        py::gil_scoped_release nogil;
        p = check_sklearn_tree(t, n_features, values_rows);
    }
    if (p.ok) return py::int_(p.depth);
    return problem(p);
}

// HistGradientBoosting TreePredictor nodes: None if sound, else (node, reason).
py::object check_hist_tree(py::array nodes, int64_t n_features, int64_t n_bitsets) {
    if (nodes.ndim() != 1) throw py::value_error("node table must be 1-d");
    HistPredictorNodes t;
    t.n_nodes = static_cast<std::size_t>(nodes.shape(0));
    t.left = int_column(nodes, "left", 'u', 4);
    t.right = int_column(nodes, "right", 'u', 4);
    t.feature_idx = int_column(nodes, "feature_idx", 'i', 8);
    t.is_leaf = int_column(nodes, "is_leaf", 'u', 1);
    t.is_categorical = int_column(nodes, "is_categorical", 'u', 1);
    t.bitset_idx = int_column(nodes, "bitset_idx", 'u', 4);
    TreeProblem p;
    {
        py::gil_scoped_release nogil;
        p = check_hist_predictor(t, n_features, n_bitsets);
    }
    return problem(p);
}

// sk_build_tree's first stage on its own (the tests hold it against TreeHandler.checked_parts): the checks of a
// Tree node's parts for the usual node, args [n_features, n_classes, n_outputs] and state {max_depth, node_count,
// nodes, values} of exact types, n_classes a contiguous intp vector. True only if every one of checked_parts's
// checks passes (this is stricter: anything unusual is False).
// A Tree node's parts as sk_tree_parts_ok accepted them (held: the node table's check releases the GIL).
struct SkTreeParts {
    py::object n_features, n_classes, n_outputs, max_depth, node_count, nodes, values;
    long long features = 0, node_rows = 0, depth = 0;
};

PyObject* interned(const char* s) { return PyUnicode_InternFromString(s); }

PyTypeObject* ndarray_type() {  // numpy.ndarray (a strong reference, never released)
    return reinterpret_cast<PyTypeObject*>(py::object(py::module_::import("numpy").attr("ndarray")).release().ptr());
}

// The value of an int object that fits a long long (errors cleared: false).
bool long_value(PyObject* o, long long& out) {
    int overflow = 0;
    out = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (out == -1 && PyErr_Occurred()) { PyErr_Clear(); return false; }
    return overflow == 0;
}

// The keys of a Tree node's state (interned once, never released).
struct TreeStateKeys {
    PyObject* max_depth = interned("max_depth");
    PyObject* node_count = interned("node_count");
    PyObject* nodes = interned("nodes");
    PyObject* values = interned("values");
};
const TreeStateKeys& tree_state_keys() {
    static const TreeStateKeys* keys = new TreeStateKeys;
    return *keys;
}

bool sk_tree_parts(py::handle args, py::handle state, py::handle node_dtype, SkTreeParts& out) {
    static const py::handle intp = py::dtype::of<int64_t>().release();  // (n_classes: the intp of 64-bit systems)
    static const py::handle f64 = py::dtype::of<double>().release();
    static PyTypeObject* ndarray = ndarray_type();
    const TreeStateKeys& key = tree_state_keys();
    constexpr long long k31 = 1LL << 31;
    auto int_in = [](PyObject* o, long long lo, long long hi, long long& out) {  // an exact int in [lo, hi)
        return o && PyLong_CheckExact(o) && long_value(o, out) && out >= lo && out < hi;
    };
    auto same_dtype = [](const py::array& a, py::handle dt) {  // a.dtype == dt, as Python compares them
        const int r = PyObject_RichCompareBool(a.dtype().ptr(), dt.ptr(), Py_EQ);
        if (r < 0) { PyErr_Clear(); return false; }
        return r == 1;
    };
    PyObject* a = args.ptr();
    if (!PyList_CheckExact(a) || PyList_GET_SIZE(a) != 3) return false;
    long long n_features, n_outputs, max_depth, node_count;
    if (!int_in(PyList_GET_ITEM(a, 0), 1, k31, n_features) || !int_in(PyList_GET_ITEM(a, 2), 1, k31, n_outputs))
        return false;
    PyObject* nc = PyList_GET_ITEM(a, 1);
    if (Py_TYPE(nc) != ndarray) return false;
    py::array classes = py::reinterpret_borrow<py::array>(nc);
    if (classes.ndim() != 1 || classes.shape(0) != n_outputs || !same_dtype(classes, intp) || classes.itemsize() != 8 ||
        !(classes.flags() & py::array::c_style))
        return false;
    const auto* counts = static_cast<const int64_t*>(classes.data());
    int64_t most = 0;
    for (long long i = 0; i < n_outputs; ++i) {
        if (counts[i] < 1 || counts[i] >= k31) return false;
        most = std::max(most, counts[i]);
    }
    PyObject* st = state.ptr();
    if (!PyDict_CheckExact(st) || PyDict_GET_SIZE(st) != 4) return false;
    PyObject* md = PyDict_GetItemWithError(st, key.max_depth);
    PyObject* cnt = md ? PyDict_GetItemWithError(st, key.node_count) : nullptr;
    PyObject* nodes = cnt ? PyDict_GetItemWithError(st, key.nodes) : nullptr;
    PyObject* values = nodes ? PyDict_GetItemWithError(st, key.values) : nullptr;
    if (!values) { PyErr_Clear(); return false; }
    if (!int_in(md, 0, k31, max_depth) || !int_in(cnt, 1, LLONG_MAX, node_count)) return false;
    if (Py_TYPE(nodes) != ndarray || Py_TYPE(values) != ndarray) return false;
    py::array n = py::reinterpret_borrow<py::array>(nodes), v = py::reinterpret_borrow<py::array>(values);
    if (!(n.ndim() == 1 && n.shape(0) == node_count && same_dtype(n, node_dtype) && v.ndim() == 3 &&
          v.shape(0) == node_count && v.shape(1) == n_outputs && v.shape(2) == most && same_dtype(v, f64)))
        return false;
    auto held = [](PyObject* o) { return py::reinterpret_borrow<py::object>(o); };
    out = SkTreeParts{held(PyList_GET_ITEM(a, 0)), held(nc), held(PyList_GET_ITEM(a, 2)), held(md), held(cnt),
                      held(nodes), held(values), n_features, node_count, max_depth};
    return true;
}

// sk_build_tree's first stage on its own (the tests hold it against TreeHandler.checked_parts): the checks of a
// Tree node's parts for the usual node, args [n_features, n_classes, n_outputs] and state {max_depth, node_count,
// nodes, values} of exact types, n_classes a contiguous intp vector. True only if every one of checked_parts's
// checks passes (this is stricter: anything unusual is False).
bool sk_tree_parts_ok(py::handle args, py::handle state, py::handle node_dtype) {
    SkTreeParts p;
    return sk_tree_parts(args, state, node_dtype, p);
}

std::atomic<uint64_t> g_builder_table_checks{0};  // node tables sk_build_tree checked itself (no worker's note)

// TreeHandler.construct for the usual node, at once: sk_tree_parts_ok's checks; the node table's structure and
// depth (the worker's note from `notes` when it checked this very table with n_features open, else
// check_tree's pass); then cls(n_features, n_classes, n_outputs) and __setstate__, as construct does. None,
// with nothing built, when anything is unusual or wrong: construct's own code then decides and words it.
// (Its note is taken out of `notes` either way, as construct does.) `consume`: the state's arrays are dropped
// from the node once the tree has its own copy.
py::object sk_build_tree(py::handle cls, py::handle args, py::handle state, py::handle node_dtype, py::handle notes,
                         bool consume) {
    static PyObject* k_setstate = interned("__setstate__");
    const TreeStateKeys& key = tree_state_keys();
    SkTreeParts p;
    if (!sk_tree_parts(args, state, node_dtype, p)) return py::none();
    py::array nodes = py::reinterpret_borrow<py::array>(p.nodes), values = py::reinterpret_borrow<py::array>(p.values);
    PyObject* const table = p.nodes.ptr();
    if (!(nodes.flags() & py::array::c_style) || !(values.flags() & py::array::c_style)) return py::none();
    long long depth = -1;
    if (PyDict_CheckExact(notes.ptr()) && PyDict_GET_SIZE(notes.ptr()) > 0) {
        py::object key = py::reinterpret_steal<py::object>(PyLong_FromVoidPtr(table));
        if (!key) throw py::error_already_set();
        PyObject* found = PyDict_GetItemWithError(notes.ptr(), key.ptr());
        if (!found && PyErr_Occurred()) throw py::error_already_set();
        if (found) {
            py::object note = py::reinterpret_borrow<py::object>(found);
            if (PyDict_DelItem(notes.ptr(), key.ptr()) < 0) throw py::error_already_set();
            PyObject* t = note.ptr();
            if (PyTuple_CheckExact(t) && PyTuple_GET_SIZE(t) == 3 && PyTuple_GET_ITEM(t, 0) == table &&
                PyLong_CheckExact(PyTuple_GET_ITEM(t, 1)) && PyLong_CheckExact(PyTuple_GET_ITEM(t, 2))) {
                const long long d = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 1));
                const long long feat = PyLong_AsLongLong(PyTuple_GET_ITEM(t, 2));
                if (PyErr_Occurred()) PyErr_Clear();
                else if (feat < p.features && d >= 0) depth = d;
            }
        }
    }
    if (depth < 0) {
        ++g_builder_table_checks;
        py::object d = check_tree(nodes, p.node_rows, p.features, p.node_rows);
        if (!PyLong_CheckExact(d.ptr())) return py::none();
        depth = d.cast<long long>();
    }
    if (depth != p.depth) return py::none();
    py::object tree = py::reinterpret_steal<py::object>(
        PyObject_CallFunctionObjArgs(cls.ptr(), p.n_features.ptr(), p.n_classes.ptr(), p.n_outputs.ptr(), nullptr));
    if (!tree) throw py::error_already_set();
    py::object st = py::reinterpret_steal<py::object>(PyDict_New());
    if (!st || PyDict_SetItem(st.ptr(), key.max_depth, p.max_depth.ptr()) < 0 ||
        PyDict_SetItem(st.ptr(), key.node_count, p.node_count.ptr()) < 0 ||
        PyDict_SetItem(st.ptr(), key.nodes, table) < 0 || PyDict_SetItem(st.ptr(), key.values, p.values.ptr()) < 0)
        throw py::error_already_set();
    py::object r = py::reinterpret_steal<py::object>(PyObject_CallMethodOneArg(tree.ptr(), k_setstate, st.ptr()));
    if (!r) throw py::error_already_set();
    if (consume && (PyDict_SetItem(state.ptr(), key.nodes, Py_None) < 0 || PyDict_SetItem(state.ptr(), key.values, Py_None) < 0))
        throw py::error_already_set();
    return tree;
}

// The Decoder's decode of a decision tree estimator's state, for the usual node, at once (sklearn_trees'
// STATE_DECODERS): `state` a dict whose keys are str holding no "milo:" (a plain dict to Decoder.classify), its
// "tree_" a Tree node of exactly {"milo:object": tree_qn, "args", "state"}, which sk_build_tree builds. Its arrays
// are put in place first, as Decoder.decode does: need[id(container)], when there, is passed to fill. Then its
// other dict and list values (a shared random_state's reference, a multi-output tree's classes) are decoded in
// order, as the Decoder's walk of a plain dict does: decode(value, path_cls(path, key)). Returns a copy of `state`
// with the built Tree as "tree_"; or None, with nothing built and nothing else decoded, when the state or its tree
// is otherwise: the Decoder then decodes the state as any other, and words any error. (The Tree first, out of
// the dict's order: its node holds neither ids nor references, so nothing else sees the difference.)
py::object sk_tree_estimator_state(py::handle state, py::handle tree_qn, py::handle tree_cls, py::handle node_dtype,
                                   py::handle notes, bool consume, py::handle need, py::handle fill,
                                   py::handle decode, py::handle path, py::handle path_cls) {
    static PyObject* k_tree = interned("tree_");
    static PyObject* k_object = interned("milo:object");
    static PyObject* k_args = interned("args");
    static PyObject* k_state = interned("state");
    static PyObject* mark = interned("milo:");
    PyObject* const st = state.ptr();
    if (!PyDict_CheckExact(st) || !PyUnicode_CheckExact(tree_qn.ptr())) return py::none();
    const bool deferred = PyDict_CheckExact(need.ptr());
    auto fill_for = [&](PyObject* container) {  // Decoder.decode's `self.fill(self.need[id(node)])`
        if (!deferred || PyDict_GET_SIZE(need.ptr()) == 0) return;
        py::object id = py::reinterpret_steal<py::object>(PyLong_FromVoidPtr(container));
        if (!id) throw py::error_already_set();
        PyObject* n = PyDict_GetItemWithError(need.ptr(), id.ptr());
        if (!n && PyErr_Occurred()) throw py::error_already_set();
        if (n && !py::reinterpret_steal<py::object>(PyObject_CallOneArg(fill.ptr(), n))) throw py::error_already_set();
    };
    fill_for(st);
    PyObject* tree_node = nullptr;
    std::vector<std::pair<py::object, py::object>> others;  // the other dict and list values, in order
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(st, &pos, &k, &v)) {
        if (!PyUnicode_CheckExact(k)) return py::none();
        const Py_ssize_t at = PyUnicode_Find(k, mark, 0, PY_SSIZE_T_MAX, 1);
        if (at == -2) throw py::error_already_set();
        if (at >= 0) return py::none();
        if (!PyDict_CheckExact(v) && !PyList_CheckExact(v)) continue;  // final: kept as it is
        const int is_tree = PyUnicode_Compare(k, k_tree);
        if (is_tree == -1 && PyErr_Occurred()) throw py::error_already_set();
        if (is_tree == 0) {
            if (!PyDict_CheckExact(v) || PyDict_GET_SIZE(v) != 3) return py::none();
            tree_node = v;
        } else {
            others.emplace_back(py::reinterpret_borrow<py::object>(k), py::reinterpret_borrow<py::object>(v));
        }
    }
    if (!tree_node) return py::none();
    PyObject* qn = PyDict_GetItemWithError(tree_node, k_object);
    PyObject* args = qn ? PyDict_GetItemWithError(tree_node, k_args) : nullptr;
    PyObject* tree_state = args ? PyDict_GetItemWithError(tree_node, k_state) : nullptr;
    if (!tree_state) {
        if (PyErr_Occurred()) throw py::error_already_set();
        return py::none();
    }
    if (!PyUnicode_CheckExact(qn)) return py::none();
    const int same = PyUnicode_Compare(qn, tree_qn.ptr());
    if (same == -1 && PyErr_Occurred()) throw py::error_already_set();
    if (same != 0) return py::none();
    py::object keep_node = py::reinterpret_borrow<py::object>(tree_node);  // (fill runs Python: hold what we use)
    py::object keep_args = py::reinterpret_borrow<py::object>(args);
    py::object keep_state = py::reinterpret_borrow<py::object>(tree_state);
    fill_for(tree_node);
    py::object tree = sk_build_tree(tree_cls, args, tree_state, node_dtype, notes, consume);
    if (tree.is_none()) return tree;
    py::object out = py::reinterpret_steal<py::object>(PyDict_Copy(st));
    if (!out || PyDict_SetItem(out.ptr(), k_tree, tree.ptr()) < 0) throw py::error_already_set();
    for (const auto& kv : others) {  // (what the walk would decode: through the Decoder itself)
        py::object sub = path_cls(path, kv.first);
        py::object value = decode(kv.second, sub);
        if (PyDict_SetItem(out.ptr(), kv.first.ptr(), value.ptr()) < 0) throw py::error_already_set();
    }
    return out;
}

// validate_tree_estimator's checks of a fitted single-output decision tree, at once, on the estimator's
// __dict__: tree_ exactly `tree_cls`; n_features_in_ an int (or numpy integer) equal to the tree's; n_outputs_
// absent, None or an int equal to the tree's; with n_classes_ and classes_, one output: n_classes_ an int equal to
// the tree's class count and classes_ an ndarray of that many. True only if all of that holds (stricter than the Python
// checks); False sends validate_tree_estimator to its own checks.
bool sk_tree_estimator_ok(py::handle d, py::handle tree_cls) {
    static PyTypeObject* ndarray = ndarray_type();
    static PyObject* k_tree = interned("tree_");
    static PyObject* k_in = interned("n_features_in_");
    static PyObject* k_out = interned("n_outputs_");
    static PyObject* k_nc = interned("n_classes_");
    static PyObject* k_classes = interned("classes_");
    static PyObject* a_features = interned("n_features");
    static PyObject* a_outputs = interned("n_outputs");
    static PyObject* a_max_classes = interned("max_n_classes");
    PyObject* dict = d.ptr();
    if (!PyDict_CheckExact(dict)) return false;
    auto get = [dict](PyObject* k) {
        PyObject* v = PyDict_GetItemWithError(dict, k);
        if (!v && PyErr_Occurred()) throw py::error_already_set();
        return v;
    };
    auto attr_int = [](PyObject* o, PyObject* name, long long& out) {
        py::object v = py::reinterpret_steal<py::object>(PyObject_GetAttr(o, name));
        if (!v) { PyErr_Clear(); return false; }
        return PyLong_Check(v.ptr()) && long_value(v.ptr(), out);
    };
    static PyObject* np_integer = py::object(py::module_::import("numpy").attr("integer")).release().ptr();
    auto exact_int = [](PyObject* o, long long& out) {  // an int or a numpy integer (not a bool), as Python's
        if (!o) return false;
        py::object v;
        if (!PyLong_CheckExact(o)) {
            const int r = PyObject_IsInstance(o, np_integer);
            if (r < 0) { PyErr_Clear(); return false; }
            if (r == 0) return false;
            v = py::reinterpret_steal<py::object>(PyNumber_Index(o));
            if (!v) { PyErr_Clear(); return false; }
            o = v.ptr();
        }
        return long_value(o, out);
    };
    PyObject* tree = get(k_tree);
    if (!tree || tree == Py_None) return false;  // (nothing to check: the Python checks return at once)
    if (reinterpret_cast<PyObject*>(Py_TYPE(tree)) != tree_cls.ptr()) return false;
    long long n_features, n_outputs, n;
    if (!attr_int(tree, a_features, n_features) || !attr_int(tree, a_outputs, n_outputs)) return false;
    if (!exact_int(get(k_in), n) || n != n_features) return false;
    PyObject* out = get(k_out);
    if (out && out != Py_None && (!exact_int(out, n) || n != n_outputs)) return false;
    PyObject* nc = get(k_nc);
    PyObject* classes = nc ? get(k_classes) : nullptr;
    if (!nc || !classes || classes == Py_None) return true;
    long long count, k;
    if (n_outputs != 1 || !attr_int(tree, a_max_classes, count)) return false;
    if (!exact_int(nc, k) || k != count || Py_TYPE(classes) != ndarray) return false;
    py::array c = py::reinterpret_borrow<py::array>(classes);
    return c.ndim() == 1 && c.shape(0) == count;
}

uint64_t sk_builder_table_checks() { return g_builder_table_checks.load(); }

// The (key, value) pairs of a dict whose value is exactly a dict or a list, in the dict's order: what the
// Decoder must decode in a plain dict (its other values are final), found without a Python loop.
py::list container_items(py::handle d) {
    if (!PyDict_CheckExact(d.ptr())) throw py::type_error("container_items: expected a dict");
    py::list out;
    PyObject *k, *v;
    Py_ssize_t pos = 0;
    while (PyDict_Next(d.ptr(), &pos, &k, &v)) {
        if (PyDict_CheckExact(v) || PyList_CheckExact(v)) {
            PyObject* t = PyTuple_Pack(2, k, v);
            if (!t) throw py::error_already_set();
            const int rc = PyList_Append(out.ptr(), t);
            Py_DECREF(t);
            if (rc < 0) throw py::error_already_set();
        }
    }
    return out;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
    m.doc() = "milo_fast's compiled codec: JSON text <-> Python values with numpy arrays";
    m.def("encode", &encode, py::arg("obj"), py::arg("base64"), py::arg("indent"), py::arg("strict"),
          py::arg("prepared") = py::none());
    py::class_<Encoder>(m, "Encoder", "An encode whose arrays can be handed over before the walk (prepare)")
        .def(py::init<bool, int, bool>(), py::arg("base64"), py::arg("indent"), py::arg("strict"))
        .def("prepare", &Encoder::prepare, py::arg("array"),
             "Queue the text of an array the document will hold, written while the document is being made.")
        .def("close", &Encoder::close, "Stop writing the prepared arrays: the document will not be encoded")
        .def_property_readonly("prepared", &Encoder::prepared_count, "Arrays queued by prepare (until encoded)")
        .def_property_readonly("reused", &Encoder::reused, "Places where the walk used a prepared array's text");
    m.def("decode", &decode, py::arg("data"), py::arg("max_depth"), py::arg("threads"));
    m.def("decode_deferred", &decode_deferred, py::arg("data"), py::arg("max_depth"), py::arg("threads"),
          py::arg("name_keys") = py::none());
    py::class_<PendingArray>(m, "PendingArray", "An array still being converted (decode_deferred)")
        .def_readonly("index", &PendingArray::index)
        .def_readonly("size", &PendingArray::size)
        .def_readonly("nbytes", &PendingArray::nbytes)
        .def("__repr__", [](const PendingArray& p) { return "<PendingArray " + std::to_string(p.index) + ">"; });
    py::class_<Deferred>(m, "Deferred", "Arrays of a decode_deferred tree still being converted")
        .def("fill", &Deferred::fill, py::arg("n"), "Arrays [0, n) in place of their placeholders")
        .def("fill_all", &Deferred::fill_all)
        .def("error", &Deferred::error, "Waits for every array: the DecodeError of the first that failed, or None")
        .def_property_readonly("filled", &Deferred::filled)
        .def_property_readonly("count", &Deferred::count)
        .def_property_readonly("need", &Deferred::need)
        .def_property_readonly("tree_notes", &Deferred::notes,
                               "id(node table) -> (table, depth, largest split feature), for tables already "
                               "checked with n_features open (tree_check.hpp sklearn_tree_shape)");
    m.def("check_tree", &check_tree, py::arg("nodes"), py::arg("n_nodes"), py::arg("n_features"), py::arg("values_rows"),
          "Validate an sklearn Tree node table: its depth (int) if sound, else (node, reason).");
    m.def("check_hist_tree", &check_hist_tree, py::arg("nodes"), py::arg("n_features"), py::arg("n_bitsets"),
          "Validate HistGradientBoosting predictor nodes: None if sound, else (node, reason).");
    m.def("sk_tree_parts_ok", &sk_tree_parts_ok, py::arg("args"), py::arg("state"), py::arg("node_dtype"),
          "sk_build_tree's checks of a Tree node's args and state alone: True if they pass (exact types).");
    m.def("sk_build_tree", &sk_build_tree, py::arg("cls"), py::arg("args"), py::arg("state"), py::arg("node_dtype"),
          py::arg("notes"), py::arg("consume"),
          "TreeHandler.construct for the usual node: the built Tree, or None (nothing built) for its own checks.");
    m.def("sk_tree_estimator_state", &sk_tree_estimator_state, py::arg("state"), py::arg("tree_qn"),
          py::arg("tree_cls"), py::arg("node_dtype"), py::arg("notes"), py::arg("consume"), py::arg("need"),
          py::arg("fill"), py::arg("decode"), py::arg("path"), py::arg("path_cls"),
          "A decision tree estimator's decoded state for the usual node (its Tree built), or None (nothing built).");
    m.def("sk_tree_estimator_ok", &sk_tree_estimator_ok, py::arg("d"), py::arg("tree_cls"),
          "True if a decision tree estimator's __dict__ passes every check of validate_tree_estimator (exact types).");
    m.def("sk_builder_table_checks", &sk_builder_table_checks,
          "How many node tables sk_build_tree has checked itself (without a worker's note), in this process.");
    m.def("container_items", &container_items, py::arg("d"),
          "The (key, value) pairs of a dict whose value is exactly a dict or a list, in order.");
}

// vcsim: the vCenter / ESXi test peer of vmimport's VMware source.
//
// govmomi's simulator (Debian's golang-github-vmware-govmomi-dev) runs on a
// private plain-HTTP port; this program puts a TLS front on 127.0.0.1 with a
// CA it generates, and makes the front as strict as a real vCenter where the
// simulator is lenient: every SOAP call but RetrieveServiceContent and Login
// needs a live vmware_soap_session cookie (else a NotAuthenticated fault),
// and /folder answers 401 without one.  The front counts logins, /folder
// bytes, snapshots created and removed; sessions expire after an idle time
// (-idle) or at once on POST /vcsim/expire.  VMs marked ignore_shutdown
// accept ShutdownGuest and go on running.
//
// The vCenter model has two datacenters: DC0 at the top and DC1 inside the
// folder F0 (vCenter allows datacenters in folders); a VM's spec says which
// ("datacenter": "F0/DC1", default DC0) and whether VMware Tools run in it
// ("tools": "running", "not-running" (the simulator's default) or
// "unknown": guest.toolsRunningStatus left unset).
//
// Usage: vcsim -spec SPEC.json -dir STATEDIR [-esx] [-idle SECONDS] [-page N]
//
//	STATEDIR/ca.pem    the CA that signed the server's certificate
//	STATEDIR/state.json  {url, datacenter, datastore, vms: [...]}
//	GET  /vcsim/stats    {"logins":N,"folder_bytes":N,...}; soap_calls,
//	                     and vm_objects / vm_configs: VirtualMachine objects
//	                     sent by RetrieveProperties(Ex) and Continue..., and
//	                     those with config.hardware.device (fully described)
//	POST /vcsim/expire   drop every session
//	POST /vcsim/expire-after?bytes=N  drop them once N more /folder bytes went out
//	POST /vcsim/expire-after?calls=N  ... after N more SOAP calls
//	POST /vcsim/fail-next?n=N  answer the next N SOAP calls 503
//	POST /vcsim/no-missing-flag?on=1|0  act as a server without
//	                     reportMissingObjectsInResults (an unknown ID faults)
//
// Built with GO111MODULE=off GOPATH=/usr/share/gocode go build.
package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"encoding/xml"
	"flag"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/signal"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

type diskSpec struct {
	Controller    int      `json:"controller"`     // index into controllers
	DatastorePath string   `json:"datastore_path"` // "dir/name.vmdk"
	Files         []string `json:"files"`          // local files placed in dir/
	CapacityKB    int64    `json:"capacity_kb"`
}

type nicSpec struct {
	Type    string `json:"type"`    // e1000 e1000e vmxnet2 vmxnet3 pcnet32
	Network string `json:"network"` // "VM Network" or a DV port group
	MAC     string `json:"mac"`
}

type vmSpec struct {
	Name           string     `json:"name"`
	Folder         string     `json:"folder"`
	Guest          string     `json:"guest"`
	CPUs           int32      `json:"cpus"`
	Cores          int32      `json:"cores"`
	MemoryMB       int64      `json:"memory_mb"`
	Firmware       string     `json:"firmware"`
	SecureBoot     bool       `json:"secure_boot"`
	PowerOn        bool       `json:"power_on"`
	IgnoreShutdown bool       `json:"ignore_shutdown"`
	Datacenter     string     `json:"datacenter"` // inventory path; "" = DC0
	Tools          string     `json:"tools"`      // running, not-running, unknown
	Controllers    []string   `json:"controllers"`
	Disks          []diskSpec `json:"disks"`
	NICs           []nicSpec  `json:"nics"`
}

type spec struct {
	User     string   `json:"user"`
	Password string   `json:"password"`
	VMs      []vmSpec `json:"vms"`
}

type vmState struct {
	Name       string   `json:"name"`
	Moref      string   `json:"moref"`
	MACs       []string `json:"macs"`
	Datacenter string   `json:"datacenter"`
}

type state struct {
	URL          string    `json:"url"`
	Datacenter   string    `json:"datacenter"`
	Datastore    string    `json:"datastore"`
	DatastoreDir string    `json:"datastore_dir"`
	VMs          []vmState `json:"vms"`
}

// The strict front.
type front struct {
	mu            sync.Mutex
	sessions      map[string]time.Time // cookie value -> last use
	idle          time.Duration
	ignore        map[string]bool // VM morefs whose ShutdownGuest is ignored
	logins        int64
	folderBytes   int64
	folderReqs    int64
	snapCreated   int64
	snapRemoved   int64
	shutdowns     int64
	powerOffs     int64
	expireAt      int64 // expire every session once folderBytes reaches it (0: off)
	expireCalls   int64 // ... or after this many more SOAP calls (0: off)
	page          int   // objects per RetrievePropertiesEx page (0: all at once)
	failNext      int64 // answer the next N SOAP calls 503, as a busy vCenter does
	injected      int64
	pages         map[string][][]byte
	nextToken     int
	continues     int64
	soapCalls     int64
	vmObjects     int64 // VirtualMachine objects sent by the property collector
	vmConfigs     int64 // ... with their config.hardware.device
	noMissingFlag bool  // drop reportMissingObjectsInResults from requests
	proxy         *httputil.ReverseProxy
}

const cookieName = "vmware_soap_session"

func (f *front) live(r *http.Request) bool {
	c, err := r.Cookie(cookieName)
	if err != nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	last, ok := f.sessions[c.Value]
	if !ok {
		return false
	}
	if f.idle > 0 && time.Since(last) > f.idle {
		delete(f.sessions, c.Value)
		return false
	}
	f.sessions[c.Value] = time.Now()
	return true
}

// The SOAP method of a request body and its _this moref.
func soapMethod(body []byte) (string, string) {
	d := xml.NewDecoder(bytes.NewReader(body))
	depth := 0
	name := ""
	for {
		t, err := d.Token()
		if err != nil {
			return name, ""
		}
		switch e := t.(type) {
		case xml.StartElement:
			depth++
			if depth == 3 && name == "" {
				name = e.Name.Local
			} else if depth == 4 && e.Name.Local == "_this" {
				var v string
				if d.DecodeElement(&v, &e) == nil {
					return name, strings.TrimSpace(v)
				}
				return name, ""
			}
		case xml.EndElement:
			depth--
		}
	}
}

const faultTmpl = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>The session is not authenticated.</faultstring><detail><NotAuthenticatedFault xmlns="urn:vim25" xsi:type="NotAuthenticated"><object type="%s">%s</object><privilegeId>System.View</privilegeId></NotAuthenticatedFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>`

const emptyResp = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><%sResponse xmlns="urn:vim25"></%sResponse></soapenv:Body></soapenv:Envelope>`

type countingWriter struct {
	http.ResponseWriter
	n      int64
	status int
	keep   *bytes.Buffer // what was sent, when kept
}

func (w *countingWriter) Write(b []byte) (int, error) {
	n, err := w.ResponseWriter.Write(b)
	w.n += int64(n)
	if w.keep != nil {
		w.keep.Write(b[:n])
	}
	return n, err
}

func (w *countingWriter) WriteHeader(s int) {
	w.status = s
	w.ResponseWriter.WriteHeader(s)
}

func (f *front) serveSDK(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	method, this := soapMethod(body)
	f.mu.Lock()
	dropFlag := f.noMissingFlag
	f.mu.Unlock()
	if dropFlag && method == "RetrievePropertiesEx" {
		// An older server: no reportMissingObjectsInResults, so an ID
		// that names nothing is a ManagedObjectNotFound fault.
		body = bytes.ReplaceAll(body, []byte("<reportMissingObjectsInResults>true</reportMissingObjectsInResults>"), nil)
		r.ContentLength = int64(len(body))
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	f.mu.Lock()
	busy := f.failNext > 0
	if busy {
		f.failNext--
		f.injected++
	}
	f.mu.Unlock()
	if busy {
		w.WriteHeader(http.StatusServiceUnavailable)
		fmt.Fprintln(w, "busy")
		return
	}
	switch method {
	case "RetrieveServiceContent", "Login":
	default:
		if !f.live(r) {
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprintf(w, faultTmpl, "SessionManager", "SessionManager")
			return
		}
	}
	f.mu.Lock()
	f.soapCalls++
	if f.expireCalls > 0 {
		if f.expireCalls--; f.expireCalls == 0 {
			f.sessions = map[string]time.Time{}
		}
	}
	switch method {
	case "CreateSnapshot_Task":
		f.snapCreated++
	case "RemoveSnapshot_Task":
		f.snapRemoved++
	case "PowerOffVM_Task":
		f.powerOffs++
	case "ShutdownGuest":
		f.shutdowns++
	}
	ignore := method == "ShutdownGuest" && f.ignore[this]
	f.mu.Unlock()
	if ignore {
		w.Header().Set("Content-Type", "text/xml; charset=utf-8")
		fmt.Fprintf(w, emptyResp, method, method)
		return
	}
	if method == "Logout" {
		if c, err := r.Cookie(cookieName); err == nil {
			f.mu.Lock()
			delete(f.sessions, c.Value)
			f.mu.Unlock()
		}
	}
	cw := &countingWriter{ResponseWriter: w, status: 200}
	switch method {
	case "RetrieveProperties", "RetrievePropertiesEx", "ContinueRetrievePropertiesEx":
		cw.keep = &bytes.Buffer{}
		defer f.countObjects(cw.keep.Bytes)
	}
	if f.page > 0 && method == "RetrievePropertiesEx" {
		f.retrievePaged(cw, r)
		return
	}
	if method == "ContinueRetrievePropertiesEx" {
		f.continuePaged(cw, body)
		return
	}
	f.proxy.ServeHTTP(cw, r)
	if method == "Login" && cw.status == 200 {
		f.mu.Lock()
		f.logins++
		f.mu.Unlock()
	}
}

// The VMs a property collector answer carried, and how many of them with
// their devices (what only a full description asks for).
func (f *front) countObjects(sent func() []byte) {
	b := sent()
	objs := bytes.Count(b, []byte(`<obj type="VirtualMachine">`))
	cfgs := bytes.Count(b, []byte(`<name>config.hardware.device</name>`))
	f.mu.Lock()
	f.vmObjects += int64(objs)
	f.vmConfigs += int64(cfgs)
	f.mu.Unlock()
}

// Paging, which the simulator lacks: the answer's objects are cut into
// pages of f.page; the first goes out with a token, the others are kept
// for ContinueRetrievePropertiesEx.  pages[token] = the remaining pages.
func (f *front) retrievePaged(w http.ResponseWriter, r *http.Request) {
	rec := httptest.NewRecorder()
	f.proxy.ServeHTTP(rec, r)
	body := rec.Body.Bytes()
	if rec.Code != 200 {
		w.WriteHeader(rec.Code)
		w.Write(body)
		return
	}
	d := xml.NewDecoder(bytes.NewReader(body))
	var objs [][2]int64
	depth, start := 0, int64(0)
	for {
		off := d.InputOffset()
		t, err := d.Token()
		if err != nil {
			break
		}
		switch e := t.(type) {
		case xml.StartElement:
			depth++
			if depth == 5 && e.Name.Local == "objects" {
				start = off
			}
		case xml.EndElement:
			if depth == 5 && e.Name.Local == "objects" {
				objs = append(objs, [2]int64{start, d.InputOffset()})
			}
			depth--
		}
	}
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	if len(objs) <= f.page {
		w.Write(body)
		return
	}
	prefix := string(body[:objs[0][0]])
	suffix := string(body[objs[len(objs)-1][1]:])
	var pages [][]byte
	for i := 0; i < len(objs); i += f.page {
		j := i + f.page
		if j > len(objs) {
			j = len(objs)
		}
		pages = append(pages, body[objs[i][0]:objs[j-1][1]])
	}
	f.mu.Lock()
	f.nextToken++
	token := fmt.Sprintf("page-%d", f.nextToken)
	f.pages[token] = append([][]byte{[]byte(prefix), []byte(suffix)}, pages[1:]...)
	f.mu.Unlock()
	fmt.Fprintf(w, "%s<token>%s</token>%s%s", prefix, token, pages[0], suffix)
}

func (f *front) continuePaged(w http.ResponseWriter, body []byte) {
	var req struct {
		Token string `xml:"Body>ContinueRetrievePropertiesEx>token"`
	}
	xml.Unmarshal(body, &req)
	f.mu.Lock()
	f.continues++
	kept, ok := f.pages[req.Token]
	if ok {
		delete(f.pages, req.Token)
	}
	var next string
	if ok && len(kept) > 3 {
		f.nextToken++
		next = fmt.Sprintf("page-%d", f.nextToken)
		f.pages[next] = append([][]byte{kept[0], kept[1]}, kept[3:]...)
	}
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	if !ok || len(kept) < 3 {
		w.WriteHeader(http.StatusInternalServerError)
		fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>ServerFaultCode</faultcode><faultstring>unknown token</faultstring><detail><InvalidArgumentFault xmlns="urn:vim25" xsi:type="InvalidArgument"><invalidProperty>token</invalidProperty></InvalidArgumentFault></detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>`)
		return
	}
	rename := func(b []byte) string {
		return strings.ReplaceAll(string(b), "RetrievePropertiesExResponse", "ContinueRetrievePropertiesExResponse")
	}
	tok := ""
	if next != "" {
		tok = "<token>" + next + "</token>"
	}
	fmt.Fprintf(w, "%s%s%s%s", rename(kept[0]), tok, kept[2], rename(kept[1]))
}

// The cookie a Login response sets becomes a live session.
func (f *front) modifyResponse(resp *http.Response) error {
	for _, c := range resp.Cookies() {
		if c.Name == cookieName && resp.StatusCode == 200 {
			f.mu.Lock()
			f.sessions[c.Value] = time.Now()
			f.mu.Unlock()
		}
	}
	return nil
}

func (f *front) serveFolder(w http.ResponseWriter, r *http.Request) {
	if !f.live(r) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	cw := &countingWriter{ResponseWriter: w, status: 200}
	f.proxy.ServeHTTP(cw, r)
	f.mu.Lock()
	f.folderBytes += cw.n
	f.folderReqs++
	if f.expireAt > 0 && f.folderBytes >= f.expireAt {
		f.sessions = map[string]time.Time{}
		f.expireAt = 0
	}
	f.mu.Unlock()
}

func (f *front) serveStats(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if r.Method == http.MethodPost && r.URL.Path == "/vcsim/expire" {
		f.sessions = map[string]time.Time{}
		fmt.Fprintln(w, "expired")
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/vcsim/expire-after" {
		f.expireAt, f.expireCalls = 0, 0
		if b := r.URL.Query().Get("bytes"); b != "" {
			fmt.Sscan(b, &f.expireAt)
			f.expireAt += f.folderBytes
		}
		fmt.Sscan(r.URL.Query().Get("calls"), &f.expireCalls)
		fmt.Fprintln(w, "armed")
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/vcsim/no-missing-flag" {
		f.noMissingFlag = r.URL.Query().Get("on") == "1"
		fmt.Fprintln(w, "set")
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/vcsim/fail-next" {
		fmt.Sscan(r.URL.Query().Get("n"), &f.failNext)
		fmt.Fprintln(w, "armed")
		return
	}
	if r.Method == http.MethodPost && r.URL.Path == "/vcsim/reset" {
		f.logins, f.folderBytes, f.folderReqs = 0, 0, 0
		f.snapCreated, f.snapRemoved, f.shutdowns, f.powerOffs = 0, 0, 0, 0
		f.continues, f.injected, f.failNext = 0, 0, 0
		f.soapCalls, f.vmObjects, f.vmConfigs = 0, 0, 0
		fmt.Fprintln(w, "reset")
		return
	}
	json.NewEncoder(w).Encode(map[string]int64{
		"logins": f.logins, "folder_bytes": f.folderBytes,
		"folder_requests": f.folderReqs, "sessions": int64(len(f.sessions)),
		"snapshots_created": f.snapCreated, "snapshots_removed": f.snapRemoved,
		"shutdown_guest": f.shutdowns, "power_off": f.powerOffs,
		"continue_calls": f.continues, "injected_503": f.injected,
		"soap_calls": f.soapCalls, "vm_objects": f.vmObjects,
		"vm_configs": f.vmConfigs,
	})
}

// A CA and a server certificate for 127.0.0.1 signed by it.
func makeTLS(dir string) (*tls.Config, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vmimport test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "127.0.0.1"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	if err := os.WriteFile(filepath.Join(dir, "ca.pem"), caPEM, 0644); err != nil {
		return nil, err
	}
	return &tls.Config{Certificates: []tls.Certificate{{
		Certificate: [][]byte{der}, PrivateKey: key}}}, nil
}

func controller(l object.VirtualDeviceList, kind string) (types.BaseVirtualDevice, error) {
	switch kind {
	case "ide":
		return l.CreateIDEController()
	case "nvme":
		return l.CreateNVMEController()
	case "sata":
		c := &types.VirtualAHCIController{}
		c.Key = l.NewKey()
		return c, nil
	default:
		return l.CreateSCSIController(kind)
	}
}

func must(err error, what string) {
	if err != nil {
		log.Fatalf("vcsim: %s: %s", what, err)
	}
}

// Nested folders under the datacenter's VM folder, made as needed.
func folderFor(ctx context.Context, finder *find.Finder, root *object.Folder, rel string) *object.Folder {
	cur := root
	p := ""
	for _, part := range strings.Split(rel, "/") {
		if part == "" {
			continue
		}
		p = path.Join(p, part)
		f, err := finder.Folder(ctx, path.Join(root.InventoryPath, p))
		if err != nil {
			f, err = cur.CreateFolder(ctx, part)
			must(err, "create folder "+p)
			f.InventoryPath = path.Join(root.InventoryPath, p)
		}
		cur = f
	}
	return cur
}

// A datacenter of the model and what its VMs are made with.
type dcInfo struct {
	path   string
	dc     *object.Datacenter
	finder *find.Finder
	pool   *object.ResourcePool
	ds     *object.Datastore
	dsDir  string
}

func openDC(ctx context.Context, c *govmomi.Client, p string) *dcInfo {
	finder := find.NewFinder(c.Client, false)
	dc, err := finder.Datacenter(ctx, "/"+p)
	must(err, "datacenter "+p)
	finder.SetDatacenter(dc)
	ds, err := finder.DefaultDatastore(ctx)
	must(err, "datastore of "+p)
	var dsMo mo.Datastore
	must(ds.Properties(ctx, ds.Reference(), []string{"info"}, &dsMo), "datastore info")
	pool, err := finder.DefaultResourcePool(ctx)
	if err != nil {
		pools, perr := finder.ResourcePoolList(ctx, "*")
		must(perr, "resource pool of "+p)
		pool = pools[0]
	}
	return &dcInfo{path: p, dc: dc, finder: finder, pool: pool, ds: ds,
		dsDir: dsMo.Info.GetDatastoreInfo().Url}
}

// guest.toolsRunningStatus as the spec says (the simulator makes every VM
// guestToolsNotRunning and never changes it).
func setTools(ref types.ManagedObjectReference, tools string) {
	status := ""
	switch tools {
	case "running":
		status = string(types.VirtualMachineToolsRunningStatusGuestToolsRunning)
	case "", "not-running":
		status = string(types.VirtualMachineToolsRunningStatusGuestToolsNotRunning)
	case "unknown":
	default:
		log.Fatalf("vcsim: tools %q: running, not-running or unknown", tools)
	}
	vm := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	simulator.Map.WithLock(vm, func() {
		vm.Guest.ToolsRunningStatus = status
		if tools == "running" {
			vm.Guest.ToolsStatus = types.VirtualMachineToolsStatusToolsOk
		}
	})
}

func createVM(ctx context.Context, c *govmomi.Client, d *dcInfo, v vmSpec) vmState {
	finder, dc, pool, ds, dsDir := d.finder, d.dc, d.pool, d.ds, d.dsDir
	folders, err := dc.Folders(ctx)
	must(err, "datacenter folders")
	folder := folderFor(ctx, finder, folders.VmFolder, v.Folder)

	var devs object.VirtualDeviceList
	for _, k := range v.Controllers {
		d, err := controller(devs, k)
		must(err, "controller "+k)
		devs = append(devs, d)
	}
	for _, n := range v.NICs {
		net, err := finder.Network(ctx, n.Network)
		must(err, "network "+n.Network)
		backing, err := net.EthernetCardBackingInfo(ctx)
		must(err, "backing "+n.Network)
		d, err := devs.CreateEthernetCard(n.Type, backing)
		must(err, "nic "+n.Type)
		if n.MAC != "" {
			card := d.(types.BaseVirtualEthernetCard).GetVirtualEthernetCard()
			card.AddressType = string(types.VirtualEthernetCardMacTypeManual)
			card.MacAddress = n.MAC
		}
		devs = append(devs, d)
	}
	changes, err := devs.ConfigSpec(types.VirtualDeviceConfigSpecOperationAdd)
	must(err, "device spec")
	cfg := types.VirtualMachineConfigSpec{
		Name:              v.Name,
		GuestId:           v.Guest,
		NumCPUs:           v.CPUs,
		NumCoresPerSocket: v.Cores,
		MemoryMB:          v.MemoryMB,
		Firmware:          v.Firmware,
		DeviceChange:      changes,
		Files: &types.VirtualMachineFileInfo{
			VmPathName: fmt.Sprintf("[%s] %s", ds.Name(), v.Name+"-"+strings.ReplaceAll(v.Folder, "/", "-")),
		},
	}
	if v.Firmware == "efi" {
		sb := v.SecureBoot
		cfg.BootOptions = &types.VirtualMachineBootOptions{EfiSecureBootEnabled: &sb}
	}
	task, err := folder.CreateVM(ctx, cfg, pool, nil)
	must(err, "create VM "+v.Name)
	info, err := task.WaitForResult(ctx, nil)
	must(err, "create VM "+v.Name)
	vm := object.NewVirtualMachine(c.Client, info.Result.(types.ManagedObjectReference))

	// Disks on the controllers now that they have their real keys.
	list, err := vm.Device(ctx)
	must(err, "devices")
	var ctrls []types.BaseVirtualController
	for _, d := range list {
		if c, ok := d.(types.BaseVirtualController); ok {
			switch d.(type) {
			case *types.VirtualPCIController, *types.VirtualPS2Controller, *types.VirtualSIOController:
				continue
			}
			if _, ok := d.(*types.VirtualIDEController); ok && !contains(v.Controllers, "ide") {
				continue
			}
			ctrls = append(ctrls, c)
		}
	}
	for _, dk := range v.Disks {
		dir := path.Dir(dk.DatastorePath)
		must(os.MkdirAll(filepath.Join(dsDir, dir), 0755), "mkdir")
		for _, f := range dk.Files {
			dst := filepath.Join(dsDir, dir, filepath.Base(f))
			os.Remove(dst)
			must(os.Symlink(f, dst), "link "+f)
		}
		// The simulator attaches an existing disk only if X-flat.vmdk exists.
		flat := filepath.Join(dsDir, strings.TrimSuffix(dk.DatastorePath, ".vmdk")+"-flat.vmdk")
		placeholder := false
		if _, err := os.Lstat(flat); err != nil {
			must(os.WriteFile(flat, nil, 0644), "placeholder")
			placeholder = true
		}
		want := ctrlKind(v.Controllers[dk.Controller])
		var ctl types.BaseVirtualController
		for _, c := range ctrls {
			if ctrlKind(list.Type(c.(types.BaseVirtualDevice))) == want {
				ctl = c
				break
			}
		}
		if ctl == nil {
			log.Fatalf("vcsim: no %s controller on %s", want, v.Name)
		}
		disk := list.CreateDisk(ctl, ds.Reference(), fmt.Sprintf("[%s] %s", ds.Name(), dk.DatastorePath))
		disk.CapacityInKB = dk.CapacityKB
		// No FileOperation: attach the file that is there, create nothing.
		rtask, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{
			DeviceChange: []types.BaseVirtualDeviceConfigSpec{&types.VirtualDeviceConfigSpec{
				Operation: types.VirtualDeviceConfigSpecOperationAdd, Device: disk}}})
		must(err, "add disk "+dk.DatastorePath)
		must(rtask.Wait(ctx), "add disk "+dk.DatastorePath)
		if placeholder {
			os.Remove(flat)
		}
		list, err = vm.Device(ctx)
		must(err, "devices")
	}
	if v.PowerOn {
		task, err := vm.PowerOn(ctx)
		must(err, "power on")
		must(task.Wait(ctx), "power on")
	}
	setTools(vm.Reference(), v.Tools)
	st := vmState{Name: v.Name, Moref: vm.Reference().Value, Datacenter: d.path}
	for _, d := range list {
		if n, ok := d.(types.BaseVirtualEthernetCard); ok {
			st.MACs = append(st.MACs, n.GetVirtualEthernetCard().MacAddress)
		}
	}
	return st
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}

// govmomi names controllers by type ("pvscsi", "lsilogic-sas", "ahci", ...).
func ctrlKind(s string) string {
	switch s {
	case "sata", "ahci":
		return "ahci"
	}
	return s
}

func main() {
	specPath := flag.String("spec", "", "VM spec (JSON)")
	dir := flag.String("dir", "", "state directory")
	esx := flag.Bool("esx", false, "a standalone ESXi host instead of vCenter")
	idle := flag.Float64("idle", 0, "session idle timeout in seconds (0: none)")
	page := flag.Int("page", 0, "objects per RetrievePropertiesEx page (0: no paging)")
	flag.Parse()
	if *specPath == "" || *dir == "" {
		log.Fatal("usage: vcsim -spec SPEC.json -dir STATEDIR [-esx] [-idle S]")
	}
	var sp spec
	raw, err := os.ReadFile(*specPath)
	must(err, "read spec")
	must(json.Unmarshal(raw, &sp), "parse spec")

	var model *simulator.Model
	if *esx {
		model = simulator.ESX()
	} else {
		model = simulator.VPX()
		model.Host = 0
		model.ClusterHost = 1
		model.Machine = 0
		model.Datacenter = 2 // DC0, and F0/DC1: a datacenter in a folder
		model.Folder = 1
	}
	model.Machine = 0
	must(model.Create(), "create model")
	defer model.Remove()
	model.Service.Listen = &url.URL{Host: "127.0.0.1:0",
		User: url.UserPassword(sp.User, sp.Password)}
	sim := model.Service.NewServer()
	defer sim.Close()

	ctx := context.Background()
	u := *sim.URL
	c, err := govmomi.NewClient(ctx, &u, true)
	must(err, "client")
	top := "DC0"
	if *esx {
		top = "ha-datacenter"
	}
	dcs := map[string]*dcInfo{top: openDC(ctx, c, top)}
	first := dcs[top]

	backend, _ := url.Parse(sim.URL.String())
	backend.User = nil
	backend.Path = ""
	f := &front{sessions: map[string]time.Time{}, ignore: map[string]bool{},
		page: *page, pages: map[string][][]byte{},
		idle: time.Duration(*idle * float64(time.Second))}
	f.proxy = httputil.NewSingleHostReverseProxy(backend)
	f.proxy.ModifyResponse = f.modifyResponse

	st := state{Datacenter: first.dc.Name(), Datastore: first.ds.Name(), DatastoreDir: first.dsDir}
	for _, v := range sp.VMs {
		p := v.Datacenter
		if p == "" {
			p = top
		}
		if dcs[p] == nil {
			dcs[p] = openDC(ctx, c, p)
		}
		vs := createVM(ctx, c, dcs[p], v)
		if v.IgnoreShutdown {
			f.ignore[vs.Moref] = true
		}
		st.VMs = append(st.VMs, vs)
	}
	_ = c.Logout(ctx)

	tlsConf, err := makeTLS(*dir)
	must(err, "TLS")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	must(err, "listen")
	mux := http.NewServeMux()
	mux.HandleFunc("/sdk", f.serveSDK)
	mux.HandleFunc("/folder/", f.serveFolder)
	mux.HandleFunc("/vcsim/", f.serveStats)
	srv := &http.Server{Handler: mux, TLSConfig: tlsConf,
		ErrorLog: log.New(io.Discard, "", 0)}
	st.URL = fmt.Sprintf("https://%s/sdk", ln.Addr().String())
	out, _ := json.MarshalIndent(st, "", "  ")
	tmp := filepath.Join(*dir, "state.json.tmp")
	must(os.WriteFile(tmp, out, 0644), "state")
	must(os.Rename(tmp, filepath.Join(*dir, "state.json")), "state")

	go func() {
		sig := make(chan os.Signal, 1)
		signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
		<-sig
		srv.Close()
	}()
	if err := srv.ServeTLS(ln, "", ""); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}

"""The explanation as one self-contained HTML page: no external script, font or image.

The page embeds the explanation as JSON and draws the ladder as inline SVG with its own script:
one arrow (``g.arrow``) per message, one marker (``g.event``) per core event, coloured by party
and by kind; hovering or clicking an arrow shows the whole message (the SIP text or the decoded
H.225.0 of the pcap); a switch sets the times to absolute, relative to the INVITE, or deltas.
"""

from __future__ import annotations

import html
import json
from typing import Any

from simulator.explain._model import Explanation, clock


def page_data(ex: Explanation) -> dict[str, Any]:
    from simulator.explain._pcap import wire_packets

    data = ex.to_dict()
    full = {id(p.entry): p.text for p in wire_packets(ex) if p.entry is not None}
    entries: list[dict[str, Any]] = []
    checks: list[dict[str, Any]] = []  # passed setup checks, drawn as one marker
    for entry, item in zip(ex.entries, data["entries"], strict=True):
        if entry.is_message:
            item["full"] = full.get(id(entry), f"{entry.message} ({entry.src} -> {entry.dst})")
        else:
            item["full"] = entry.text + "\n\n" + json.dumps(entry.details, indent=2)
        item["label"] = _label(entry.message, entry.details, entry.text)
        if entry.message == "setup_check" and entry.details.get("passed"):
            checks.append(item)
            continue
        if checks:
            entries.append(_checks(checks))
            checks = []
        entries.append(item)
    if checks:
        entries.append(_checks(checks))
    data["entries"] = entries
    return data


def _label(event: str, d: dict[str, Any], text: str) -> str:
    """A short line for the ladder beside an event's marker (the full text shows on hover)."""
    if event in ("pulse", "pulse_unpaid"):
        others = ", ".join(f"{o['call']} holds {o['reserved']}" for o in d["others"])
        others = f" · {others}" if others else ""
        if event == "pulse":
            return (f"pulse {d['index']} reserves {d['cost']}: {d['account']} "
                    f"{d['available_before']} → {d['available_after']}{others}")
        return (f"pulse {d['index']} ({d['cost']}) unpaid: {d['account']} has "
                f"{d['available_before']}{others}")
    if event == "ending":
        return f"row {d['row']}: {d['situation']} → endDirection {d['endDirection']}"
    return text


def _checks(checks: list[dict[str, Any]]) -> dict[str, Any]:
    rows = f"{checks[0]['details']['row']}-{checks[-1]['details']['row']}"
    text = f"setup checks rows {rows} passed" if len(checks) > 1 else checks[0]["text"]
    return {**checks[0], "text": text, "label": text, "details": {},
            "full": "\n".join(c["text"] for c in checks)}


def render_html(ex: Explanation) -> str:
    data = json.dumps(page_data(ex), separators=(",", ":")).replace("</", "<\\/")
    header_rows = "".join(
        f"<tr><th>{html.escape(k.replace('_', ' '))}</th><td>{html.escape(_text(v))}</td></tr>"
        for k, v in ex.header.items())
    cdr_rows = "".join(
        f"<tr><th>{html.escape(f.name)}</th><td class=v>{html.escape(_text(f.value))}</td>"
        f"<td>{html.escape(f.provenance)}</td></tr>" for f in ex.cdr)
    what_if = "".join(_what_if(change) for change in ex.what_if)
    recorded = ex.recorded
    title = f"call {ex.call_id} — {ex.scenario}"
    return _PAGE.format(
        title=html.escape(title), description=html.escape(ex.description),
        header_rows=header_rows, cdr_rows=cdr_rows, what_if=what_if,
        recorded_class="ok" if recorded["recorded"] else "gap",
        recorded=html.escape(recorded["text"]), pipe=html.escape(ex.pipe_line),
        invite=html.escape(clock(ex.invite_ms)), data=data, script=_SCRIPT, style=_STYLE)


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value)) or "none"
    return str(value)


def _what_if(change: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{html.escape(d['field'])}</th><td>{html.escape(str(d['before']))}"
                   f"</td><td>{html.escape(str(d['after']))}</td>"
                   f"<td>{html.escape(d['why_after'])}</td></tr>"
                   for d in change["differences"]) or \
        "<tr><td colspan=4>no CDR field differs</td></tr>"
    return (f"<h2>What if {html.escape(', '.join(change['changes']))}</h2><table class=cdr>"
            "<tr><th>field</th><th>as run</th><th>what if</th><th>why, what if</th></tr>"
            f"{rows}<tr><th>decided by</th><td>{html.escape(change['before_ending'])}</td>"
            f"<td>{html.escape(change['after_ending'])}</td><td></td></tr></table>")


_STYLE = """
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:20px;color:#1d232a;
background:#fbfbfa}
h1{font-size:20px;margin:0 0 6px}h2{font-size:16px;margin:22px 0 8px}
table{border-collapse:collapse}th,td{text-align:left;vertical-align:top;padding:3px 10px 3px 0}
table.cdr td,table.cdr th{border-bottom:1px solid #e3e3e0;padding:4px 12px 4px 0}
td.v{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:nowrap}
p.desc{max-width:900px;font-style:italic;color:#444}
#controls{margin:8px 0}#controls label{margin-right:14px;cursor:pointer}
#wrap{display:flex;gap:16px;align-items:flex-start}
#ladder{background:#fff;border:1px solid #ddd;border-radius:6px;flex:none}
table.header{display:block}table.header tbody{display:grid;grid-template-columns:1fr 1fr;
column-gap:28px;max-width:1100px}table.header tr{display:flex}
table.header th{min-width:130px}
#detail{position:sticky;top:10px;flex:1 1 280px;min-width:260px;max-width:560px;background:#fff;
border:1px solid #ddd;border-radius:6px;padding:10px;white-space:pre-wrap;overflow-wrap:anywhere;
font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;max-height:80vh;overflow:auto}
svg text{font:12px ui-monospace,Menlo,Consolas,monospace}
g.arrow,g.event{cursor:pointer}g.arrow:hover line,g.arrow.sel line{stroke-width:3}
g.arrow:hover text,g.event:hover text{font-weight:bold}
.ok{color:#176b32;font-weight:600}.gap{color:#b3261e;font-weight:600}
.legend span{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;
vertical-align:-1px}
code{font-family:ui-monospace,Menlo,Consolas,monospace}
"""

_SCRIPT = r"""
(function(){
const data=JSON.parse(document.getElementById('explanation').textContent);
const SVG='http://www.w3.org/2000/svg';
const laneColours=['#1f8a4c','#59636e','#1f6feb','#c2410c','#8250df','#0e7490'];
const kindColours={refusal:'#d1242f','server-ending':'#bf3989',billing:'#b7791f',
 timer:'#3b6fb6',check:'#2da44e',routing:'#0969da',media:'#a0527a',ending:'#d1242f'};
const lanes=data.lanes, laneX={}, W=170, left=120, rowH=26, top=56;
lanes.forEach((l,i)=>laneX[l]=left+W/2+i*W);
const entries=data.entries;
const width=left+W*lanes.length+560, height=top+rowH*entries.length+30;
const svg=document.createElementNS(SVG,'svg');
svg.setAttribute('width',width);svg.setAttribute('height',height);
svg.setAttribute('viewBox','0 0 '+width+' '+height);
function el(name,attrs,parent){const e=document.createElementNS(SVG,name);
 for(const k in attrs)e.setAttribute(k,attrs[k]);(parent||svg).appendChild(e);return e;}
const defs=el('defs',{});
function marker(id,colour){const m=el('marker',{id:id,viewBox:'0 0 10 10',refX:'10',refY:'5',
 markerWidth:'7',markerHeight:'7',orient:'auto-start-reverse'},defs);
 el('path',{d:'M0,0L10,5L0,10z',fill:colour},m);}
lanes.forEach((l,i)=>marker('m'+i,laneColours[i%laneColours.length]));
for(const k in kindColours)marker('k'+k,kindColours[k]);
lanes.forEach((l,i)=>{const c=laneColours[i%laneColours.length];
 el('rect',{x:laneX[l]-70,y:8,width:140,height:34,rx:5,fill:c,opacity:.12,stroke:c},svg);
 const t=el('text',{x:laneX[l],y:24,'text-anchor':'middle',fill:c,'font-weight':'bold'});
 t.textContent=l;
 const a=el('text',{x:laneX[l],y:38,'text-anchor':'middle',fill:'#666'});
 a.textContent=(l==='switch'?'vossim':(data.lane_addresses[l]||''));
 el('line',{x1:laneX[l],y1:top-8,x2:laneX[l],y2:height-10,stroke:c,'stroke-dasharray':'4 3',
  opacity:.6});});
const timeLabels=[], groups=[];
const detail=document.getElementById('detail');
function show(i,g){document.querySelectorAll('g.sel').forEach(x=>x.classList.remove('sel'));
 g.classList.add('sel');const e=entries[i];
 detail.textContent=fmt(i,'absolute')+'  (+'+((e.time_ms-data.invite_ms)/1000).toFixed(3)+
  ' s)\n'+(e.src?e.src+' -> '+e.dst+': '+e.message:e.text)+'\n\n'+e.full;}
entries.forEach((e,i)=>{
 const y=top+i*rowH+rowH/2;
 const tl=el('text',{x:8,y:y+4,fill:'#444',class:'time'});timeLabels.push(tl);
 let g;
 if(e.src){
  const si=lanes.indexOf(e.src), x1=laneX[e.src], x2=laneX[e.dst];
  const special=kindColours[e.kind];
  const colour=special||laneColours[si%laneColours.length];
  g=el('g',{class:'arrow kind-'+e.kind,'data-index':i,'data-src':e.src,'data-dst':e.dst});
  el('line',{x1:x1,y1:y,x2:x2+(x2>x1?-2:2),y2:y,stroke:colour,'stroke-width':1.8,
   'marker-end':'url(#'+(special?'k'+e.kind:'m'+si)+')'},g);
  const lt=el('text',{x:(x1+x2)/2,y:y-5,'text-anchor':'middle',fill:colour},g);
  lt.textContent=e.message;
 }else{
  const x=laneX['switch'], colour=kindColours[e.kind]||'#555';
  g=el('g',{class:'event kind-'+e.kind,'data-index':i});
  el('path',{d:'M'+x+','+(y-6)+'l6,6l-6,6l-6,-6z',fill:colour},g);
  const tx=left+W*lanes.length+10;
  el('line',{x1:x+8,y1:y,x2:tx-4,y2:y,stroke:colour,'stroke-width':.6,
   'stroke-dasharray':'2 3'},g);
  const t=el('text',{x:tx,y:y+4,fill:colour},g);
  t.textContent=e.label.length>76?e.label.slice(0,75)+'…':e.label;
 }
 groups.push(g);
 const title=el('title',{},g);title.textContent=e.full;
 g.addEventListener('click',()=>show(i,g));
 g.addEventListener('mouseenter',()=>show(i,g));
});
function pad(n,w){return String(n).padStart(w,'0');}
function fmt(i,mode){const e=entries[i];
 if(mode==='relative')return '+'+((e.time_ms-data.invite_ms)/1000).toFixed(3);
 if(mode==='delta'){const p=i?entries[i-1].time_ms:data.invite_ms;
  return 'Δ'+((e.time_ms-p)/1000).toFixed(3);}
 const d=new Date(e.time_ms);return pad(d.getUTCHours(),2)+':'+pad(d.getUTCMinutes(),2)+':'+
  pad(d.getUTCSeconds(),2)+'.'+pad(d.getUTCMilliseconds(),3);}
function setTimes(mode){timeLabels.forEach((t,i)=>t.textContent=fmt(i,mode));
 document.body.setAttribute('data-time',mode);}
document.querySelectorAll('input[name=time]').forEach(r=>r.addEventListener('change',
 ()=>setTimes(r.value)));
document.getElementById('ladder').appendChild(svg);
const wanted=(location.hash.match(/time=(absolute|relative|delta)/)||[])[1]||'absolute';
document.querySelectorAll('input[name=time]').forEach(r=>r.checked=(r.value===wanted));
setTimes(wanted);
const selected=(location.hash.match(/select=(\d+)/)||[])[1];
if(selected!==undefined&&groups[+selected])show(+selected,groups[+selected]);
document.body.setAttribute('data-rendered',String(entries.length));
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{style}</style></head>
<body>
<h1>{title}</h1>
<p class="desc">{description}</p>
<table class="header">{header_rows}</table>
<h2>Ladder</h2>
<div class="legend"><span><i style="background:#1f8a4c"></i>caller</span>
<span><i style="background:#59636e"></i>switch</span>
<span><i style="background:#1f6feb"></i>gateways</span>
<span><i style="background:#d1242f"></i>refusal / ending row</span>
<span><i style="background:#bf3989"></i>server ending</span>
<span><i style="background:#b7791f"></i>billing event</span>
<span><i style="background:#3b6fb6"></i>timer</span>
<span><i style="background:#2da44e"></i>setup check</span></div>
<div id="controls">times:
<label><input type="radio" name="time" value="absolute" checked> absolute (UTC)</label>
<label><input type="radio" name="time" value="relative"> relative to the INVITE
({invite})</label>
<label><input type="radio" name="time" value="delta"> delta</label>
<span style="color:#666">— hover or click an arrow to see the whole message</span></div>
<div id="wrap"><div id="ladder"></div><pre id="detail">Hover or click a message or event.</pre>
</div>
<h2>CDR, field by field</h2>
<table class="cdr"><tr><th>field</th><th>value</th><th>where it comes from</th></tr>
{cdr_rows}</table>
<p class="{recorded_class}">{recorded}</p>
<p>pipe line: <code>{pipe}</code></p>
{what_if}
<script type="application/json" id="explanation">{data}</script>
<script>{script}</script>
</body></html>
"""

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
        else:  # the panel shows the event's text once, then this: its data
            item["full"] = json.dumps(entry.details, indent=2, ensure_ascii=False)
        item["label"] = _label(entry.message, entry.details, entry.text)
        item["label2"] = _second_line(entry.message, entry.details)
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
    if event == "pulse":
        return (f"pulse {d['index']} reserves {d['cost']}: {d['account']} "
                f"{d['available_before']} → {d['available_after']}")
    if event == "pulse_unpaid":
        return (f"pulse {d['index']} ({d['cost']}) unpaid: {d['account']} has "
                f"{d['available_before']}")
    if event == "ending":
        return f"row {d['row']}: {d['situation']} → endDirection {d['endDirection']}"
    if event == "setup_check" and not d.get("passed", True):
        return f"setup check row {d['row']} FAILED: {d['check']}"
    return text


def _second_line(event: str, d: dict[str, Any]) -> str:
    """The other calls holding money or capacity, named in full under the event's label."""
    holders = list(d.get("others", ())) + list(d.get("holders", ()))
    for gateway in d.get("gateways", ()):
        holders.extend(gateway["holders"])
    if not holders:
        return ""
    money = event in ("pulse", "pulse_unpaid")
    return "↳ " + "; ".join(
        f"{h['call']}" + (f" holds {h['reserved']}" if money else "")
        + f": {h['caller']} → {h['callee']}"
        + (f", answered {clock(h['answered']).removesuffix('.000')}" if h.get("answered")
           else "") for h in holders)


def _checks(checks: list[dict[str, Any]]) -> dict[str, Any]:
    rows = f"{checks[0]['details']['row']}-{checks[-1]['details']['row']}"
    text = f"setup checks rows {rows} passed" if len(checks) > 1 else checks[0]["text"]
    return {**checks[0], "text": text, "label": text, "details": {},
            "full": "\n".join(c["text"] for c in checks)}


def render_html(ex: Explanation, index: str = "") -> str:
    """The page; ``index``: the address of the page listing it (training pages link back)."""
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
    back = (f'<nav><a href="{html.escape(index)}">← all lessons</a></nav>' if index else "")
    timers = sum(1 for e in ex.entries if e.kind == "timer")
    return _PAGE.format(
        title=html.escape(title), back=back, verdict=html.escape(ex.verdict), timers=timers,
        description=html.escape(ex.description),
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
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:20px;color:#1d232a;
background:#fbfbfa;max-width:1600px}
h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin:22px 0 8px}
nav{margin:0 0 6px}nav a,a{color:#0969da}
#verdict{background:#fff;border:1px solid #d0d7de;border-left:5px solid #bf3989;border-radius:6px;
padding:10px 14px;margin:0 0 14px;font-size:15px;line-height:1.5;max-width:1200px}
#verdict b{display:block;font-size:13px;text-transform:uppercase;letter-spacing:.04em;
color:#6e7781;margin-bottom:2px}
table{border-collapse:collapse}th,td{text-align:left;vertical-align:top;padding:3px 10px 3px 0}
table.cdr{width:100%;max-width:1360px}
table.cdr td,table.cdr th{border-bottom:1px solid #e3e3e0;padding:4px 12px 4px 0}
td.v{font-family:ui-monospace,Menlo,Consolas,monospace;white-space:nowrap}
p.desc{max-width:1100px;font-style:italic;color:#555}p.desc b{font-style:normal}
#controls{margin:8px 0}#controls label{margin-right:14px;cursor:pointer}
#wrap{display:flex;gap:16px;align-items:flex-start}
#ladder{background:#fff;border:1px solid #ddd;border-radius:6px;flex:1 1 auto;min-width:0}
#ladder svg{display:block;width:100%;height:auto}
table.header{display:block}table.header tbody{display:grid;grid-template-columns:1fr 1fr;
column-gap:28px;max-width:1200px}table.header tr{display:flex}
table.header th{min-width:130px;flex:none}table.header td{overflow-wrap:anywhere}
#detail{position:sticky;top:10px;flex:0 0 300px;width:300px;background:#fff;margin:0;
border:1px solid #ddd;border-radius:6px;padding:10px;white-space:pre-wrap;overflow-wrap:anywhere;
font:12px/1.35 ui-monospace,Menlo,Consolas,monospace;max-height:85vh;overflow:auto}
#detail .what{font-weight:bold;display:block;margin-bottom:6px;font-family:system-ui,sans-serif;
font-size:13px}
svg text{font:12px ui-monospace,Menlo,Consolas,monospace}svg text.second{font-size:11px}
g.arrow,g.event{cursor:pointer}g.arrow:hover line,g.arrow.sel line{stroke-width:3}
g.arrow:hover text,g.event:hover text,g.sel text{font-weight:bold}
.ok{color:#176b32;font-weight:600}.gap{color:#b3261e;font-weight:600}
.legend span{display:inline-block;margin-right:12px}
.legend i{display:inline-block;width:12px;height:12px;border-radius:2px;margin-right:4px;
vertical-align:-1px}
code{font-family:ui-monospace,Menlo,Consolas,monospace}code.pipe{word-break:break-all}
"""

_SCRIPT = r"""
(function(){
const data=JSON.parse(document.getElementById('explanation').textContent);
const SVG='http://www.w3.org/2000/svg';
const laneColours=['#1f8a4c','#59636e','#1f6feb','#c2410c','#8250df','#0e7490'];
const kindColours={refusal:'#d1242f','server-ending':'#bf3989',billing:'#b7791f',
 timer:'#3b6fb6',check:'#2da44e',routing:'#0969da',media:'#a0527a',ending:'#d1242f'};
const lanes=data.lanes, laneX={}, W=140, left=96, top=56, labelChars=66, secondChars=86;
lanes.forEach((l,i)=>laneX[l]=left+W/2+i*W);
const entries=data.entries;
const detail=document.getElementById('detail');
const holder=document.getElementById('ladder');
let timeLabels=[], groups={}, shown=[], mode='absolute';
function el(name,attrs,parent){const e=document.createElementNS(SVG,name);
 for(const k in attrs)e.setAttribute(k,attrs[k]);parent.appendChild(e);return e;}
function cut(text,most){most=most||labelChars;
 return text.length>most?text.slice(0,most-1)+'…':text;}
function show(i){document.querySelectorAll('g.sel').forEach(x=>x.classList.remove('sel'));
 if(groups[i])groups[i].classList.add('sel');const e=entries[i];
 detail.textContent='';
 const what=document.createElement('span');what.className='what';
 what.textContent=fmt(i,'absolute')+'  (+'+((e.time_ms-data.invite_ms)/1000).toFixed(3)+' s)  '+
  (e.src?e.src+' → '+e.dst+': '+e.message:e.text);
 detail.appendChild(what);
 detail.appendChild(document.createTextNode(e.full));}
function visible(e){return e.kind!=='timer'||document.getElementById('timers').checked;}
function draw(){
 holder.textContent='';timeLabels=[];groups={};
 shown=entries.map((e,i)=>i).filter(i=>visible(entries[i]));
 const rows=shown.map(i=>entries[i].label2?40:26);
 const height=top+rows.reduce((a,b)=>a+b,0)+30;
 const width=left+W*lanes.length+Math.max(labelChars*7.3,secondChars*6.7)+20;
 const svg=document.createElementNS(SVG,'svg');
 svg.setAttribute('viewBox','0 0 '+width+' '+height);
 svg.setAttribute('width',width);svg.setAttribute('height',height);
 const defs=el('defs',{},svg);
 function marker(id,colour){const m=el('marker',{id:id,viewBox:'0 0 10 10',refX:'10',refY:'5',
  markerWidth:'7',markerHeight:'7',orient:'auto-start-reverse'},defs);
  el('path',{d:'M0,0L10,5L0,10z',fill:colour},m);}
 lanes.forEach((l,i)=>marker('m'+i,laneColours[i%laneColours.length]));
 for(const k in kindColours)marker('k'+k,kindColours[k]);
 lanes.forEach((l,i)=>{const c=laneColours[i%laneColours.length];
  el('rect',{x:laneX[l]-W/2+6,y:8,width:W-12,height:34,rx:5,fill:c,opacity:.12,stroke:c},svg);
  const t=el('text',{x:laneX[l],y:24,'text-anchor':'middle',fill:c,'font-weight':'bold'},svg);
  t.textContent=l;
  const a=el('text',{x:laneX[l],y:38,'text-anchor':'middle',fill:'#666'},svg);
  a.textContent=(l==='switch'?'vossim':(data.lane_addresses[l]||''));
  el('line',{x1:laneX[l],y1:top-8,x2:laneX[l],y2:height-10,stroke:c,'stroke-dasharray':'4 3',
   opacity:.6},svg);});
 let y0=top;
 shown.forEach((i,row)=>{const e=entries[i];const y=y0+13;y0+=rows[row];
  const tl=el('text',{x:8,y:y+4,fill:'#444',class:'time'},svg);tl.dataset.index=i;
  timeLabels.push(tl);
  let g;
  if(e.src){
   const si=lanes.indexOf(e.src), x1=laneX[e.src], x2=laneX[e.dst];
   const special=kindColours[e.kind];
   const colour=special||laneColours[si%laneColours.length];
   g=el('g',{class:'arrow kind-'+e.kind,'data-index':i,'data-src':e.src,'data-dst':e.dst},svg);
   el('line',{x1:x1,y1:y,x2:x2+(x2>x1?-2:2),y2:y,stroke:colour,'stroke-width':1.8,
    'marker-end':'url(#'+(special?'k'+e.kind:'m'+si)+')'},g);
   const lt=el('text',{x:(x1+x2)/2,y:y-5,'text-anchor':'middle',fill:colour},g);
   lt.textContent=e.message;
  }else{
   const x=laneX['switch'], colour=kindColours[e.kind]||'#555';
   g=el('g',{class:'event kind-'+e.kind,'data-index':i},svg);
   el('path',{d:'M'+x+','+(y-6)+'l6,6l-6,6l-6,-6z',fill:colour},g);
   const tx=left+W*lanes.length+10;
   el('line',{x1:x+8,y1:y,x2:tx-4,y2:y,stroke:colour,'stroke-width':.6,
    'stroke-dasharray':'2 3'},g);
   el('text',{x:tx,y:y+4,fill:colour},g).textContent=cut(e.label);
   if(e.label2)el('text',{x:tx+12,y:y+19,fill:'#6e4b00',class:'second'},g).textContent=
    cut(e.label2,secondChars);
  }
  groups[i]=g;
  el('title',{},g).textContent=e.src?e.full:e.text;
  g.addEventListener('click',()=>show(i));
  g.addEventListener('mouseenter',()=>show(i));
 });
 holder.appendChild(svg);setTimes(mode);
 document.body.setAttribute('data-rendered',String(shown.length));
 // whether the page fits its window (no horizontal scrolling), for the page's own tests
 document.body.setAttribute('data-fits',String(document.documentElement.scrollWidth<=
  window.innerWidth));}
function pad(n,w){return String(n).padStart(w,'0');}
function fmt(i,how){const e=entries[i];
 if(how==='relative')return '+'+((e.time_ms-data.invite_ms)/1000).toFixed(3);
 if(how==='delta'){const at=shown.indexOf(i);
  const p=at>0?entries[shown[at-1]].time_ms:data.invite_ms;
  return 'Δ'+((e.time_ms-p)/1000).toFixed(3);}
 const d=new Date(e.time_ms);return pad(d.getUTCHours(),2)+':'+pad(d.getUTCMinutes(),2)+':'+
  pad(d.getUTCSeconds(),2)+'.'+pad(d.getUTCMilliseconds(),3);}
function setTimes(how){mode=how;timeLabels.forEach(t=>t.textContent=fmt(+t.dataset.index,how));
 document.body.setAttribute('data-time',how);}
document.querySelectorAll('input[name=time]').forEach(r=>r.addEventListener('change',
 ()=>setTimes(r.value)));
const timers=document.getElementById('timers');
timers.checked=/timers=1/.test(location.hash);
timers.addEventListener('change',draw);
const wanted=(location.hash.match(/time=(absolute|relative|delta)/)||[])[1]||'absolute';
document.querySelectorAll('input[name=time]').forEach(r=>r.checked=(r.value===wanted));
mode=wanted;draw();
const selected=(location.hash.match(/select=(\d+)/)||[])[1];
if(selected!==undefined&&entries[+selected])show(+selected);
})();
"""

_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><style>{style}</style></head>
<body>
{back}
<h1>{title}</h1>
<section id="verdict"><b>Verdict</b>{verdict}</section>
<table class="header">{header_rows}</table>
<p class="desc"><b>The scenario's description:</b> {description}</p>
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
<label><input type="checkbox" id="timers"> show the {timers} timer lines</label>
<span style="color:#666">— hover or click a line to see it, then its data</span></div>
<div id="wrap"><div id="ladder"></div><pre id="detail">Hover or click a message or event.</pre>
</div>
<h2>CDR, field by field</h2>
<table class="cdr"><tr><th>field</th><th>value</th><th>where it comes from</th></tr>
{cdr_rows}</table>
<p class="{recorded_class}">{recorded}</p>
<p>pipe line: <code class="pipe">{pipe}</code></p>
{what_if}
<script type="application/json" id="explanation">{data}</script>
<script>{script}</script>
</body></html>
"""

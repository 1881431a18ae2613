/*
 * report_upload: see report_upload.h. The token is the one the page's first script keeps in
 * sessionStorage; once the confirmed rows are posted the script asks the page's own script to
 * fetch the department's part again (the event "pw-reload"), so each indicator shows its new
 * figure and status while the upload's results stay on screen.
 */
#include "report_upload.h"

static const char part[] =
    "<style>"
    "#upload{background:#fff;border-radius:8px;padding:14px;margin:14px 0;"
    "box-shadow:0 1px 2px rgba(0,0,0,.12)}"
    "#upload h2{font-size:17px;margin:0 0 4px}#upload .lead{margin:4px 0 8px}"
    "#upload input[type=file]{padding:8px 6px}"
    ".rows{list-style:none;margin:10px 0 0;padding:0}"
    ".rows li{border-top:1px solid #e3e6ea;padding:8px 0}"
    ".rows p{margin:2px 0}.rows .what{font-weight:bold}.rows .fig{font-size:14px;color:#333}"
    ".rows .note{font-size:14px;color:#555}.rows .why{font-size:14px}"
    ".rows .can .why,.rows .saved .why{color:#1b5e20}"
    ".rows .cannot .why,.rows .failed .why{color:#b71c1c}"
    ".rows .cannot .what{color:#777}"
    "</style>"
    "<section id=\"upload\"><h2>上传Excel表格</h2>"
    "<p class=\"lead\">也可以上传本部门的报表（.xlsx）：表头写明“指标”“日期”“数值”三列（可加"
    "“备注”列），每行一项指标。上传后先显示读到的内容，核对无误、点“确认保存”后才保存。</p>"
    "<label for=\"up-file\">选择表格文件</label>"
    "<input id=\"up-file\" type=\"file\" accept=\".xlsx,application/"
    "vnd.openxmlformats-officedocument.spreadsheetml.sheet\">"
    "<p id=\"up-msg\" class=\"result\" role=\"status\" aria-live=\"polite\"></p>"
    "<div id=\"up-preview\"></div></section>";

/* The rows of a preview become list items built with textContent: nothing read from a workbook
 * is ever parsed as markup. Rows are saved one after another, so the answers come in order and
 * the single writer is not flooded. */
static const char script[] =
    "(function(){'use strict';"
    "var app=document.getElementById('app'),dept=app.getAttribute('data-dept'),"
    "input=document.getElementById('up-file'),out=document.getElementById('up-preview'),"
    "msg=document.getElementById('up-msg'),rows=[];"
    "function tok(){try{return sessionStorage.getItem('pw-token')||'';}catch(e){return '';}}"
    "function el(t,c,x){var e=document.createElement(t);if(c)e.className=c;"
    "if(x!=null)e.textContent=x;return e;}"
    "function say(t,c){msg.textContent=t;msg.className='result'+(c?' '+c:'');}"
    "function why(r,j){if(j&&j.message)return j.message;"
    "if(r.status===401)return '链接无效或已停用，请向县府办索取新的报送链接。';"
    "if(r.status===403)return '此链接不能查看或报送该部门的指标。';"
    "if(r.status===429)return '尝试次数过多，请稍后再试。';"
    "return '暂时无法连接，请稍后再试（'+r.status+'）。';}"
    "function post(path,type,body){return fetch(dept+'/'+path,{method:'POST',cache:'no-store',"
    "headers:{'X-Pacewatch-Token':tok(),'Content-Type':type},body:body}).then(function(r){"
    "return r.json().catch(function(){return null;}).then(function(j){return{r:r,j:j};});});}"
    "input.addEventListener('change',function(){var f=input.files[0];"
    "out.textContent='';rows=[];if(!f)return;say('正在读取“'+f.name+'”……');"
    "post('upload','application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',f)"
    ".then(function(a){if(!a.r.ok||!a.j||!a.j.rows){say(why(a.r,a.j),'bad');return;}show(a.j);})"
    ".catch(function(){say('网络连接失败，请稍后再试。','bad');});});"
    "function show(j){say(j.message);var list=el('ol','rows');"
    "j.rows.forEach(function(r){var li=el('li',r.ok?'can':'cannot');"
    "li.setAttribute('data-row',r.row);li.setAttribute('data-kind',r.kind);"
    "li.appendChild(el('p','what',r.name||r.written||'（未填写指标）'));"
    "li.appendChild(el('p','fig','第'+r.row+'行　数值：'+(r.figure||r.value||'（空）')+"
    "'　截至：'+(r.date||r.as_of||'（空）')));"
    "if(r.note)li.appendChild(el('p','note','备注：'+r.note));"
    "li.appendChild(el('p','why',r.ok?'可保存'+(r.detail?'（'+r.detail+'）':''):r.reason));"
    "list.appendChild(li);if(r.ok)rows.push({r:r,li:li});});"
    "out.appendChild(list);if(rows.length){var b=el('button','confirm',"
    "'确认保存（'+rows.length+'行）');b.type='button';b.addEventListener('click',confirm);"
    "out.appendChild(b);}}"
    "function confirm(ev){var b=ev.target,i=0,saved=0,failed=0;b.disabled=true;"
    "input.disabled=true;say('正在保存……');"
    "function next(){if(i>=rows.length){b.remove();input.disabled=false;input.value='';"
    "say('已保存'+saved+'行'+(failed?'，'+failed+'行未保存（原因见各行）':'')+'。',"
    "failed?'bad':'ok');document.dispatchEvent(new Event('pw-reload'));return;}"
    "var x=rows[i++],res=x.li.querySelector('.why');res.textContent='正在保存……';"
    "post(encodeURIComponent(x.r.indicator),'application/json',"
    "JSON.stringify({value:x.r.value,as_of:x.r.as_of,note:x.r.note})).then(function(a){"
    "if(a.r.ok){saved++;res.textContent=a.j&&a.j.message||'已保存。';x.li.className='saved';}"
    "else{failed++;res.textContent='未保存：'+why(a.r,a.j);x.li.className='failed';}next();})"
    ".catch(function(){failed++;res.textContent='网络连接失败，未能确认是否保存。';"
    "x.li.className='failed';next();});}"
    "next();}"
    "})();";

const char *pw_report_upload_part(void) {
  return part;
}

const char *pw_report_upload_script(void) {
  return script;
}

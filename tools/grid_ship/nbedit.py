import json, sys, uuid
def load(p): return json.load(open(p))
def save(nb, p):
    with open(p, 'w') as f: json.dump(nb, f, indent=1, ensure_ascii=False); f.write('\n')
def src(c): return ''.join(c['source'])
def find(nb, s): return [i for i, c in enumerate(nb['cells']) if s in src(c)]
def mk(kind, text):
    c = {'cell_type': kind, 'id': uuid.uuid4().hex[:8], 'metadata': {}, 'source': text.splitlines(True)}
    if kind == 'code': c.update(execution_count=None, outputs=[])
    return c
def insert(nb, i, kind, text): nb['cells'].insert(i, mk(kind, text))
def setsrc(nb, i, text): nb['cells'][i]['source'] = text.splitlines(True)
if __name__ == '__main__':
    nb = load(sys.argv[2])
    if sys.argv[1] == 'list':
        for i, c in enumerate(nb['cells']):
            print(i, c['cell_type'][0], src(c)[:100].replace('\n', ' | '))
    elif sys.argv[1] == 'show':
        for a in sys.argv[3:]:
            c = nb['cells'][int(a)]; print(f'--- {a} {c["cell_type"]}'); print(src(c))
            for o in c.get('outputs', []):
                t = o.get('text') or o.get('data', {}).get('text/plain'); print('>>>', ''.join(t)[:3000] if t else o.get('output_type'))

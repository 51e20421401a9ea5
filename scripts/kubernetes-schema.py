"""Extracts the definitions of the kinds surgeguard renders (and all they reference) from a Kubernetes
OpenAPI v2 document into schema/kubernetes/v<version>.json, without descriptions.

usage: python3 scripts/kubernetes-schema.py <swagger.json of the release> schema/kubernetes/v1.32.json
The release-1.32 document: kubernetes/kubernetes api/openapi-spec/swagger.json on branch release-1.32
(also published as kubernetes/swagger.json.unprocessed in kubernetes-client/python v32.0.1).
"""
import json,sys
d=json.load(open(sys.argv[1]))
defs=d['definitions']
gvk={}
for k,v in defs.items():
    for g in v.get('x-kubernetes-group-version-kind',[]):
        gvk[(g['group'],g['version'],g['kind'])]=k
want=[('','v1','Namespace'),('','v1','Service'),('','v1','ConfigMap'),('','v1','ServiceAccount'),('','v1','Secret'),('','v1','PersistentVolumeClaim'),('','v1','LimitRange'),('','v1','ResourceQuota'),
('apps','v1','Deployment'),('apps','v1','DaemonSet'),('apps','v1','StatefulSet'),('batch','v1','Job'),('batch','v1','CronJob'),
('autoscaling','v2','HorizontalPodAutoscaler'),('policy','v1','PodDisruptionBudget'),('scheduling.k8s.io','v1','PriorityClass'),
('networking.k8s.io','v1','NetworkPolicy'),('rbac.authorization.k8s.io','v1','ClusterRole'),('rbac.authorization.k8s.io','v1','ClusterRoleBinding'),('rbac.authorization.k8s.io','v1','Role'),('rbac.authorization.k8s.io','v1','RoleBinding'),
('storage.k8s.io','v1','StorageClass'),('apiregistration.k8s.io','v1','APIService'),('node.k8s.io','v1','RuntimeClass'),('admissionregistration.k8s.io','v1','ValidatingWebhookConfiguration'),('admissionregistration.k8s.io','v1','MutatingWebhookConfiguration')]
roots=[]
for w in want:
    if w in gvk: roots.append(gvk[w])
    else: print('missing',w, file=sys.stderr)
seen=set()
def walk(o):
    if isinstance(o,dict):
        for k,v in o.items():
            if k=='$ref' and isinstance(v,str):
                name=v.split('/')[-1]
                if name not in seen:
                    seen.add(name); walk(defs[name])
            else: walk(v)
    elif isinstance(o,list):
        for x in o: walk(x)
for r in roots:
    seen.add(r); walk(defs[r])
def strip(o, inprops=False):
    if isinstance(o,dict):
        return {k:strip(v, k=='properties') for k,v in o.items() if inprops or k not in ('description',)}
    if isinstance(o,list): return [strip(x) for x in o]
    return o
sub={k:strip(defs[k]) for k in sorted(seen)}
out={'$comment': 'Kubernetes 1.32 OpenAPI v2 definitions (descriptions removed) of the kinds surgeguard renders, and everything they reference. Source: kubernetes/kubernetes api/openapi-spec/swagger.json of release-1.32, as published in kubernetes-client/python v32.0.1 (kubernetes/swagger.json.unprocessed, KUBERNETES_BRANCH = release-1.32). Apache License 2.0, (c) The Kubernetes Authors. Regenerate with scripts/kubernetes-schema.py.', 'kubernetesVersion': '1.32', 'definitions': sub}
json.dump(out, open(sys.argv[2],'w'), indent=1, sort_keys=True)
print(len(seen), file=sys.stderr)
